"""What a Zoho user may connect: every portal and organization they belong to, each either selectable or with the
reason it is not (the web's Connect chooser; ``bpsync connect`` says the same in its errors).

The rules are connect's own (``scheduler.connect``): owner/admin of the portal, admin of the organization, and an
organization already connected belongs to its integration. The final word stays with ``connect_checked``, which
checks the choice again with Zoho before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.connect import BOOKS_ADMIN_ROLE, PORTAL_ADMIN_ROLES, ConnectError, books_role
from shared.config import Settings
from shared.db.schema import integrations
from shared.zoho.errors import AuthError, ZohoError
from shared.zoho.factory import ZohoCredentials, build_books_client, build_projects_client


@dataclass(frozen=True)
class Choice:
    id: str
    name: str
    detail: str  # the user's role there, or the organization's currency and email
    reason: str | None  # why it cannot be chosen; None: it can

    @property
    def selectable(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Choices:
    portals: list[Choice]
    organizations: list[Choice]

    def only(self, kind: str) -> str | None:
        """The id to preselect when exactly one of ``kind`` ("portals"/"organizations") can be chosen."""
        selectable = [c.id for c in getattr(self, kind) if c.selectable]
        return selectable[0] if len(selectable) == 1 else None


def list_choices(engine: sa.Engine, settings: Settings, creds: ZohoCredentials) -> Choices:
    try:
        portals = build_projects_client(settings, creds, "").list_portals()
        organizations = build_books_client(settings, creds, "").list_organizations()
        roles = {o.organization_id: books_role(settings, creds, o.organization_id) for o in organizations}
    except AuthError as exc:
        raise ConnectError(f"Zoho refused the credentials: {exc.message} — {exc.hint}") from None
    except ZohoError as exc:
        raise ConnectError(f"could not list the portals and organizations with Zoho: {exc}") from None
    with engine.connect() as conn:
        held = dict(conn.execute(sa.select(integrations.c.books_organization_id, integrations.c.name)).all())
    portal_choices = [
        Choice(
            p.id,
            p.name,
            p.role or "no role",
            None
            if p.role.lower() in PORTAL_ADMIN_ROLES
            else f"you are {p.role or 'not an admin'!r} here; only the portal's owner or an admin can connect it",
        )
        for p in portals
    ]
    org_choices = []
    for o in organizations:
        role = roles[o.organization_id]
        reason = None
        if role != BOOKS_ADMIN_ROLE:
            reason = f"you are {role or 'not an admin'!r} here; connecting needs a Zoho Books admin"
        elif o.organization_id in held:
            reason = f"already connected as integration {held[o.organization_id]!r}"
        detail = ", ".join(part for part in (o.currency_code, o.email) if part)
        org_choices.append(Choice(o.organization_id, o.name, detail, reason))
    return Choices(portal_choices, org_choices)
