import pytest

from worker.matching import normalize_company, normalize_email


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Ltd", "ACME Ltd."),
        ("Acme Limited", "acme"),
        ("Bowman & Co", "Bowman and Co."),
        ("Müller GmbH", "Muller"),
        ("  Globex   Corporation ", "GLOBEX Corporation."),
        ("Initech, Inc.", "Initech"),
    ],
)
def test_same_company_spelled_differently(a, b):
    assert normalize_company(a) == normalize_company(b)


@pytest.mark.parametrize(("a", "b"), [("Acme Ltd", "Acme Holdings"), ("Co", "Company Ltd"), ("Ltd", "Inc")])
def test_different_companies_stay_apart(a, b):
    assert normalize_company(a) != normalize_company(b)


def test_a_name_that_is_only_a_legal_form_is_kept():
    assert normalize_company("Ltd.") == "ltd"


def test_emails_compare_case_insensitively():
    assert normalize_email(" Billing@Acme.Example ") == "billing@acme.example"
    assert normalize_email(None) == ""
