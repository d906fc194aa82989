"""Who is calling: the ``Authorization: Zoho-oauthtoken <access_token>`` header, checked against the world.

Only Zoho's documented scheme is accepted (not ``Bearer``, not the legacy ``?authtoken=``): a product that
works here with another scheme would fail against Zoho.
"""

from __future__ import annotations

from sandbox.world import World

SCHEME = "Zoho-oauthtoken "


def caller_zuid(world: World, authorization: str | None) -> str | None:
    """The zuid behind a live access token, or None (missing, unknown, expired or revoked)."""
    if not authorization or not authorization.startswith(SCHEME):
        return None
    token_value = authorization[len(SCHEME) :].strip()
    with world.lock:
        token = world.access_tokens.get(token_value)
        if token is None or token.revoked or token.expires_at <= world.clock():
            return None
        return token.zuid


def expire_access_token(world: World, authorization: str | None) -> None:
    """Make the caller's access token expired now, as if its hour had just run out."""
    token_value = (authorization or "")[len(SCHEME) :].strip()
    with world.lock:
        token = world.access_tokens.get(token_value)
        if token is not None:
            token.expires_at = min(token.expires_at, world.clock())


def revoke_access_token(world: World, authorization: str | None) -> None:
    """Revoke the refresh token behind the caller's access token (and so every token it minted)."""
    from sandbox.accounts import revoke_refresh_token

    token_value = (authorization or "")[len(SCHEME) :].strip()
    with world.lock:
        token = world.access_tokens.get(token_value)
        if token is not None:
            revoke_refresh_token(world, token.refresh_token)
            token.revoked = True
