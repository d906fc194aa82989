"""What a migration from Zoho's legacy integration does, record by record: the dry run prints it, the real run
records it. One ``Entry`` per record with its outcome and the reason, in words an admin can act on.

Outcomes:
- ``adopted``: linked to the Books record the legacy integration made (nothing is written to Zoho);
- ``created``: no legacy Books record to adopt (or none that is certain): the next sync creates (or, for a client,
  matches by its customer rule) its own;
- ``skipped``: not migrated and not synced either (e.g. a project without a primary client and its invoices); each
  is recorded as a sync error with its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

ADOPTED, CREATED, SKIPPED = "adopted", "created", "skipped"
OUTCOMES = (ADOPTED, CREATED, SKIPPED)
# record kinds in the order they are planned (parents first); each is one module run of the migrate run
KINDS = ("client", "project", "task", "bug", "timesheet", "invoice")
MODULE_OF = {kind: f"migrate_{kind}s" for kind in KINDS}


@dataclass(frozen=True)
class Entry:
    kind: str  # one of KINDS
    source_id: str  # the Zoho Projects id (an invoice: its Books id, it has no Projects record)
    name: str
    outcome: str  # one of OUTCOMES
    reason: str
    books_id: str | None = None  # the Books record adopted (or the skipped legacy one)
    reason_code: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    integration_id: int
    integration: str
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)
    run_id: int | None = None  # the migrate run that recorded it (None: a dry run)
    notes: list[str] = field(default_factory=list)  # what the admin should know beside the entries

    def counts(self) -> dict[str, dict[str, int]]:
        tally: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        for entry in self.entries:
            tally[entry.kind][entry.outcome] += 1
        return {kind: {o: tally[kind][o] for o in OUTCOMES} for kind in KINDS}

    def outcome(self) -> list[dict[str, Any]]:
        """The entries in a stable order: what a dry run and the real run after it must agree on."""
        return [e.as_json() for e in sorted(self.entries, key=lambda e: (KINDS.index(e.kind), e.source_id))]

    def as_json(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration_id,
            "integration": self.integration,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "counts": self.counts(),
            "entries": self.outcome(),
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """The text report: a summary per kind, then every record not simply adopted, then the adopted ones."""
        head = "dry run: nothing was written" if self.dry_run else f"migrated: run #{self.run_id}"
        out = [f"{self.integration}: {head}"]
        for kind, counts in self.counts().items():
            out.append(f"  {kind + 's':<11} " + "  ".join(f"{o} {counts[o]}" for o in OUTCOMES))
        for outcome in (SKIPPED, CREATED, ADOPTED):
            chosen = [e for e in self.outcome() if e["outcome"] == outcome]
            if chosen:
                out.append(f"{outcome} ({len(chosen)}):")
                out.extend(f"  {e['kind']} {e['source_id']} {e['name']!r}: {e['reason']}" for e in chosen)
        out.extend(f"note: {note}" for note in self.notes)
        return out
