import pytest

from shared.zoho.books_models import Contact
from worker.matching import (
    AmbiguousMatch,
    describe_link,
    linked_by_email_alone,
    match_by_name,
    normalize_company,
    normalize_email,
)


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


# ------------------------------------------------------------------------------------------- the rule
def _customer(contact_id: str, name: str, email: str = "") -> Contact:
    return Contact(contact_id=contact_id, contact_name=name, email=email)


def test_the_one_same_name_customer_is_linked_by_name_whatever_its_email():
    acme = _customer("1", "ACME Ltd.", "other@acme.example")
    match = match_by_name("Acme Ltd", "accounts@acme.example", [acme], {})
    assert (match.contact, match.how) == (acme, "linked by name")


def test_no_same_name_customer_means_a_new_one_even_when_a_customer_shares_the_mailbox():
    # the product used to link this client to the sister company's customer by its accounts mailbox
    match = match_by_name("Xylo Energy GmbH", "ap@xylo.example", [], {})
    assert match.contact is None and match.how == "created by this integration: no Books customer has this name"


def test_email_breaks_a_tie_between_same_name_customers_and_says_so():
    first, second = _customer("1", "Globex Corp", "ap@globex.example"), _customer("2", "GLOBEX Corp.", "x@y.example")
    match = match_by_name("Globex Corporation", "AP@globex.example", [first, second], {})
    assert (match.contact, match.how) == (first, "matched by name, e-mail broke a tie between 2")


def test_the_one_exact_spelling_wins_a_tie_before_email():
    exact, other = _customer("1", "Globex Corporation"), _customer("2", "GLOBEX Corporation.", "ap@globex.example")
    match = match_by_name("Globex Corporation", "ap@globex.example", [exact, other], {})
    assert match.contact == exact and "exact spelling among 2" in match.how


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("", "the client has no e-mail to break the tie"),
        ("ap@globex.example", "2 of them share the client's e-mail"),
        ("nobody@globex.example", "none has the client's e-mail nobody@globex.example"),
    ],
)
def test_a_tie_nothing_breaks_is_ambiguous_never_a_guess(email, why):
    tied = [_customer("1", "Globex Corp", "ap@globex.example"), _customer("2", "GLOBEX Corp.", "ap@globex.example")]
    with pytest.raises(AmbiguousMatch) as raised:
        match_by_name("Globex Corporation", email, tied, {})
    assert raised.value.candidates == tied and why in raised.value.how


def test_a_customer_already_linked_to_a_differently_named_client_is_never_adopted():
    analytics = _customer("1", "Xylo Analytics GmbH", "ap@xylo.example")
    match = match_by_name("Xylo Analytics GmbH", "ap@xylo.example", [analytics], {"1": ["Xylo Energy GmbH"]})
    assert match.contact is None
    assert "'Xylo Analytics GmbH' is already the customer of 'Xylo Energy GmbH'" in match.how


def test_same_name_clients_share_a_customer_as_zoho_merge_does():
    acme = _customer("1", "Acme Ltd")
    assert match_by_name("ACME Limited", "", [acme], {"1": ["Acme Ltd"]}).contact == acme


def test_an_unusable_twin_leaves_the_other_same_name_customer_a_match_by_name():
    taken, free = _customer("1", "Globex Corp", "ap@globex.example"), _customer("2", "GLOBEX Corp.")
    match = match_by_name("Globex Corporation", "ap@globex.example", [taken, free], {"1": ["Initech"]})
    assert (match.contact, match.how) == (free, "linked by name")


@pytest.mark.parametrize(
    ("client", "email", "customer", "created", "same_name", "how", "by_email"),
    [
        ("Acme Ltd", "", _customer("1", "ACME Ltd."), False, 1, "linked by name", False),
        ("Acme Ltd", "a@acme.example", _customer("1", "Acme Ltd (abc123)"), True, 1,
         "created by this integration", False),
        ("Globex Corporation", "ap@g.example", _customer("1", "GLOBEX Corp", "ap@g.example"), False, 2,
         "matched by name, e-mail broke a tie between 2", False),
        ("Xylo Energy GmbH", "ap@xylo.example", _customer("1", "Xylo Analytics GmbH", "AP@xylo.example"), False, 0,
         "linked by e-mail alone by an earlier version's rule; the names differ", True),
        ("Acme Group", "a@acme.example", _customer("1", "Acme Ltd", "b@acme.example"), False, 0,
         "linked while the names matched (one side was renamed since)", False),
    ],
)  # fmt: skip
def test_an_existing_link_says_how_it_was_made(client, email, customer, created, same_name, how, by_email):
    assert describe_link(client, email, customer, created=created, same_name=same_name) == how
    assert linked_by_email_alone(client, email, customer, created=created) is by_email
