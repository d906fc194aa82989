"""What ``bpsync sandbox`` prints: the ``export`` lines and the ``bpsync connect`` command that point bpsync at it.

The product never special-cases the sandbox: it is reached through the same three URL settings that pick a
Zoho data center, so these lines are all a person needs (and all the test of this printout uses).
"""

from __future__ import annotations

import shlex

from sandbox.generator import credentials
from sandbox.limits import RateLimitPreset
from sandbox.world import World

INTEGRATION_NAME = "sandbox"


def connect_help(world: World, base_url: str, limits: RateLimitPreset) -> list[str]:
    """Lines to print once the sandbox listens at ``base_url`` (shell lines, and ``#`` comments around them)."""
    creds = credentials(world)
    with world.lock:
        portal = world.portals[creds["portal_id"]]
        organization = world.organizations.get(creds["organization_id"])
        admin = world.people[portal.owner_zuid]
    org_name = organization.name if organization else "?"
    exports = {
        "BPSYNC_ACCOUNTS_URL": base_url,
        "BPSYNC_PROJECTS_API_URL": base_url,
        # Books' setting is the API root, version included: the product appends /contacts, /invoices, ...
        "BPSYNC_BOOKS_API_URL": f"{base_url}/books/v3",
        **_limiter_settings(limits),
        "BPSYNC_CONNECT_CLIENT_SECRET": creds["client_secret"],
        "BPSYNC_CONNECT_REFRESH_TOKEN": creds["admin"]["refresh_token"],
    }
    connect = [
        "bpsync",
        "connect",
        "--name",
        INTEGRATION_NAME,
        "--client-id",
        creds["client_id"],
        "--portal",
        creds["portal_id"],
        "--organization",
        creds["organization_id"],
    ]
    return [
        f"# Zoho sandbox (accounts, Projects, Books) at {base_url}; rate limits: {limits.name}",
        "# Point bpsync at it: run these in the shell that runs bpsync (worker, beat, web and commands alike).",
        *(f"export {name}={shlex.quote(value)}" for name, value in exports.items()),
        f"# Every seeded person's credentials (admin and non-admin): curl {base_url}/_sandbox/credentials",
        f"# Connect as {admin.name} <{admin.email}>, owner of portal {portal.name!r} and admin of Books",
        f"# organization {org_name!r} (the sandbox has {len(world.portals)} portals and "
        f"{len(world.organizations)} organizations; these two are the admin's):",
        "bpsync db upgrade",
        shlex.join(connect),
        f"bpsync refresh {INTEGRATION_NAME} --wait",
    ]


def _limiter_settings(limits: RateLimitPreset) -> dict[str, str]:
    """The product's own Zoho limiter, matched to the sandbox's: it paces calls to the quotas it is told."""
    if not limits.enabled:
        # With no limits here, the default limiter still paces to Zoho's quotas: a 'small' sync takes ~10
        # minutes instead of seconds.
        return {"BPSYNC_RATE_LIMITS_ENABLED": "false"}
    if limits.name == "zoho":
        return {}  # the product's defaults are Zoho's quotas and windows
    return {
        "BPSYNC_BOOKS_REQUESTS_PER_MINUTE": str(limits.books_per_window),
        "BPSYNC_BOOKS_WINDOW_SECONDS": f"{limits.books_window_s:g}",
        "BPSYNC_PROJECTS_REQUESTS_PER_WINDOW": str(limits.projects_per_window),
        "BPSYNC_PROJECTS_WINDOW_SECONDS": f"{limits.projects_window_s:g}",
    }
