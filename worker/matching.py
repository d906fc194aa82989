"""Customer matching: which Books customer a Projects client company becomes, and how to say so.

Normalization folds case, accents, punctuation and spacing and drops legal-form suffixes, so "Acme Ltd",
"ACME Ltd." and "Acme Limited" are one company. Zoho's contact-duplication preference is about names: with
``merge`` a client joins the Books customer of the same name. E-mail is no evidence that two names are one
company (sister companies of a group share an accounts mailbox), so here it only breaks a tie between
same-name customers, and a customer already the counterpart of a differently named client is never adopted
(both rules are ours, not Zoho's). Every match carries ``how`` it was made: errors and hints repeat it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.zoho.books_models import Contact

# fmt: off
LEGAL_SUFFIXES = {
    "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "corp", "corporation", "co", "company", "plc",
    "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv", "pty", "pvt", "private", "srl", "spa", "oy", "ab", "kg",
}
# fmt: on
_NON_WORD = re.compile(r"[^a-z0-9]+")

CREATED = "created by this integration"
BY_NAME = "linked by name"


def normalize_company(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    words = [w for w in _NON_WORD.split(folded) if w]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def same_company(a: str, b: str) -> bool:
    return normalize_company(a) == normalize_company(b)


@dataclass(frozen=True)
class NameMatch:
    """The customer a client joins under ``merge`` (None: a new one is created), and how that was decided."""

    contact: Contact | None
    how: str


class AmbiguousMatch(Exception):
    """Several same-name customers and nothing that tells them apart: an admin decides, we never guess."""

    def __init__(self, candidates: list[Contact], how: str) -> None:
        super().__init__(how)
        self.candidates = candidates
        self.how = how


def match_by_name(
    name: str, email: str | None, named: list[Contact], counterparts: Mapping[str, Collection[str]]
) -> NameMatch:
    """Pick among ``named`` (the Books customers whose normalized name is the client's).

    ``counterparts`` maps a Books customer id to the names of the *other* clients already linked to it: a
    customer linked to a differently named client belongs to that company and is never adopted (same-name
    clients may share one, as Zoho's merge does). Ties go to the one exact spelling, then to the one customer
    with the client's e-mail; otherwise the match is ambiguous.
    """
    usable = [c for c in named if all(same_company(other, name) for other in counterparts.get(c.contact_id, ()))]
    if not usable:
        return NameMatch(None, _why_created(name, named, counterparts))
    if len(usable) == 1:
        return NameMatch(usable[0], BY_NAME)
    exact = [c for c in usable if c.contact_name == name]
    if len(exact) == 1:
        return NameMatch(exact[0], f"linked by name (the one exact spelling among {len(usable)} same-name customers)")
    tied = exact or usable
    mailbox = normalize_email(email)
    emailed = [c for c in tied if mailbox and normalize_email(c.email) == mailbox]
    if len(emailed) == 1:
        return NameMatch(emailed[0], f"matched by name, e-mail broke a tie between {len(tied)}")
    if not mailbox:
        why = f"{len(tied)} Books customers have this name and the client has no e-mail to break the tie"
    elif emailed:
        why = f"{len(tied)} Books customers have this name and {len(emailed)} of them share the client's e-mail"
    else:
        why = f"{len(tied)} Books customers have this name and none has the client's e-mail {mailbox}"
    raise AmbiguousMatch(tied, why)


def _why_created(name: str, named: list[Contact], counterparts: Mapping[str, Collection[str]]) -> str:
    if not named:
        return f"{CREATED}: no Books customer has this name"
    taken = "; ".join(
        f"'{c.contact_name}' is already the customer of "
        + ", ".join(f"'{n}'" for n in sorted(counterparts[c.contact_id]) if not same_company(n, name))
        for c in named
    )
    return f"{CREATED}: the same-name Books customer belongs to a differently named client ({taken})"


def describe_link(
    client_name: str, client_email: str | None, customer: Contact, *, created: bool, same_name: int = 1
) -> str:
    """How an existing link was made, as far as the two records show it (links made before this rule included).

    ``same_name`` counts the Books customers sharing the client's normalized name (a tie e-mail may have broken).
    """
    if created:
        return CREATED
    mailbox = normalize_email(client_email)
    shared_mailbox = bool(mailbox) and normalize_email(customer.email) == mailbox
    if same_company(client_name, customer.contact_name):
        if same_name > 1 and customer.contact_name != client_name and shared_mailbox:
            return f"matched by name, e-mail broke a tie between {same_name}"
        return BY_NAME
    if shared_mailbox:
        return "linked by e-mail alone by an earlier version's rule; the names differ"
    return "linked while the names matched (one side was renamed since)"


def linked_by_email_alone(client_name: str, client_email: str | None, customer: Contact, *, created: bool) -> bool:
    """A link the old e-mail-first rule made to a differently named customer: reported, never silently relinked."""
    mailbox = normalize_email(client_email)
    return (
        not created
        and not same_company(client_name, customer.contact_name)
        and bool(mailbox)
        and normalize_email(customer.email) == mailbox
    )
