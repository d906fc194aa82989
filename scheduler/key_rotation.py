"""``bpsync rotate-key``: re-encrypt every stored secret under the newest key of BPSYNC_SECRET_KEY.

BPSYNC_SECRET_KEY lists keys newest first (``NEW,OLD``): the first encrypts, all decrypt. Rotating means: put the
new key first, run this, then drop the old key. What the key encrypts: each integration's credentials
(``integrations.credentials``) and the Zoho access tokens cached in the shared Redis. The webhook tokens are
SHA-256 digests, not encrypted, so they do not depend on the key.

The credentials are re-encrypted in one transaction, and only when every one of them opens with the keys given:
credentials no key opens would be lost for good once the old key goes, so the command refuses, names them and
writes nothing (give them new credentials, or add the key they were sealed with). Running it again changes
nothing: credentials already under the newest key are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shared import crypto
from shared.config import Settings
from shared.crypto import CredentialsError
from shared.db.schema import integrations


class KeyRotationRefused(Exception):
    """Some stored credentials open with none of the keys; nothing was written."""


@dataclass
class Rotation:
    keys: int  # how many keys BPSYNC_SECRET_KEY holds
    resealed: list[str] = field(default_factory=list)  # integrations re-encrypted under the newest key
    current: list[str] = field(default_factory=list)  # integrations already under it
    cached_tokens_resealed: int = 0
    cached_tokens_dropped: int = 0  # cached access tokens no key opened (each costs one refresh, as before)

    def as_json(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "resealed": self.resealed,
            "already_current": self.current,
            "cached_tokens_resealed": self.cached_tokens_resealed,
            "cached_tokens_dropped": self.cached_tokens_dropped,
        }


def rotate_key(
    engine: sa.Engine, settings: Settings, *, redis: Any = None, progress: Callable[[str], None] | None = None
) -> Rotation:
    """Re-encrypt the credentials (all or nothing) and, with ``redis``, the cached access tokens."""
    say = progress or (lambda _line: None)
    rotation = Rotation(keys=crypto.key_count(settings))
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(integrations.c.id, integrations.c.name, integrations.c.credentials)
            .order_by(integrations.c.id)
            .with_for_update()  # an update-credentials meanwhile waits, so its new secret is not overwritten
        ).all()
        _refuse_unreadable(settings, rows)
        for row in rows:
            if crypto.sealed_with_newest(settings, row.credentials):
                rotation.current.append(row.name)
                say(f"{row.name}: already under the newest key")
                continue
            conn.execute(
                integrations.update()
                .where(integrations.c.id == row.id)
                .values(credentials=crypto.rotate(settings, row.credentials))
            )
            rotation.resealed.append(row.name)
            say(f"{row.name}: re-encrypted under the newest key")
    if redis is not None:
        from shared.zoho.factory import redis_token_cache

        cache = redis_token_cache(settings, redis)
        resealed, dropped = cache.reseal_all(lambda raw: crypto.sealed_with_newest(settings, raw))
        rotation.cached_tokens_resealed, rotation.cached_tokens_dropped = resealed, dropped
    return rotation


def _refuse_unreadable(settings: Settings, rows: Sequence[Any]) -> None:
    unreadable = []
    for row in rows:
        try:
            crypto.unseal(settings, row.credentials)
        except CredentialsError:
            unreadable.append(row.name)
    if unreadable:
        names = ", ".join(repr(n) for n in unreadable)
        raise KeyRotationRefused(
            f"the credentials of {names} open with none of the keys in BPSYNC_SECRET_KEY, so nothing was "
            "re-encrypted: add the key they were sealed with (after a comma), or give them new credentials with "
            f"`bpsync update-credentials {unreadable[0]}`, then run bpsync rotate-key again"
        )
