"""``/organizations``: the organizations the caller belongs to (no organization_id needed to list them)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.books import records
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import BooksError, success
from sandbox.books.formats import date_text
from sandbox.books.rules import CODE_NOT_IN_ORGANIZATION
from sandbox.world import Organization, World


def render(world: World, org: Organization, *, default: bool) -> dict[str, Any]:
    base = records.base_currency(world, org.organization_id)
    return {
        "organization_id": org.organization_id,
        "name": org.name,
        "contact_name": org.name,
        "email": org.email,
        "is_default_org": default,
        "plan_name": org.plan_name,
        "language_code": "en",
        "fiscal_year_start_month": 0,
        "account_created_date": date_text(org.created_date),
        "time_zone": org.time_zone,
        "is_org_active": True,
        "currency_id": base.currency_id if base else "",
        "currency_code": org.currency_code,
        "currency_symbol": base.currency_symbol if base else "",
        "price_precision": 2,
    }


def _mine(call: BooksCall) -> list[Organization]:
    return [o for o in call.world.organizations.values() if call.zuid in o.member_zuids]


def list_organizations(call: BooksCall) -> Response:
    mine = _mine(call)
    rows = [render(call.world, org, default=i == 0) for i, org in enumerate(mine)]
    return success(organizations=rows)


def get_organization(call: BooksCall) -> Response:
    org_id = call.path["organization_id"]
    mine = _mine(call)
    org = next((o for o in mine if o.organization_id == org_id), None)
    if org is None:
        raise BooksError(
            400, CODE_NOT_IN_ORGANIZATION, f"This user is not associated with the CompanyID/CompanyName:{org_id}."
        )
    return success(organization=render(call.world, org, default=mine[0] is org))


routes = [
    endpoint("/organizations", org_required=False, get=list_organizations),
    endpoint("/organizations/{organization_id}", org_required=False, get=get_organization),
]
