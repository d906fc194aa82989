"""Name matching for customers: "Acme Ltd", "ACME Ltd." and "Acme Limited" are one company.

Normalization folds case, accents, punctuation and spacing and drops legal-form suffixes, so a same-company
customer is found instead of duplicated.
"""

from __future__ import annotations

import re
import unicodedata

# fmt: off
LEGAL_SUFFIXES = {
    "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "corp", "corporation", "co", "company", "plc",
    "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv", "pty", "pvt", "private", "srl", "spa", "oy", "ab", "kg",
}
# fmt: on
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize_company(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    words = [w for w in _NON_WORD.split(folded) if w]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()
