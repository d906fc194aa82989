"""Credentials at rest: Fernet (AES + HMAC) with keys from BPSYNC_SECRET_KEY.

BPSYNC_SECRET_KEY may list several keys separated by commas: the first encrypts, all decrypt, so keys can be
rotated (add the new key first, run ``bpsync rotate-key``, then drop the old one). Embedded mode without a
key keeps one in the per-user data folder so the demo works with no set-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import Settings, data_dir


class CredentialsError(Exception):
    """Stored credentials cannot be read with the configured key(s)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _embedded_key_file() -> Path:
    return data_dir() / "secret.key"


def _keys(settings: Settings) -> list[str]:
    # getattr: the Zoho client factory (the token cache's cipher) may be given a test's plain namespace
    secret_key = getattr(settings, "secret_key", None)
    if secret_key:
        return [k.strip() for k in secret_key.split(",") if k.strip()]
    embedded = getattr(settings, "embedded", None)
    if embedded is None:  # a namespace: embedded means the in-memory broker, as in Settings.embedded
        embedded = str(getattr(settings, "broker_url", "memory://")).startswith("memory://")
    if not embedded:
        raise CredentialsError("BPSYNC_SECRET_KEY is not set; generate one with: bpsync keygen")
    path = _embedded_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key())
        os.chmod(path, 0o600)
    return [path.read_text().strip()]


def cipher(settings: Settings) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in _keys(settings)])
    except ValueError:
        raise CredentialsError(
            "BPSYNC_SECRET_KEY: not a valid key (32 url-safe base64 bytes); generate one with: bpsync keygen"
        ) from None


def seal(settings: Settings, data: dict[str, Any]) -> str:
    return cipher(settings).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def unseal(settings: Settings, token: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(cipher(settings).decrypt(token.encode()))
        return data
    except InvalidToken:
        raise CredentialsError(
            "stored credentials cannot be decrypted with BPSYNC_SECRET_KEY (was the key changed without "
            "keeping the old one after a comma?)"
        ) from None


def rotate(settings: Settings, token: str) -> str:
    """Re-encrypt with the first key."""
    return cipher(settings).rotate(token.encode()).decode()


def key_count(settings: Settings) -> int:
    return len(_keys(settings))


def sealed_with_newest(settings: Settings, token: str | bytes) -> bool:
    """Whether ``token`` opens with the first key alone (what survives dropping every other key)."""
    try:
        Fernet(_keys(settings)[0].encode()).decrypt(token if isinstance(token, bytes) else token.encode())
    except (InvalidToken, ValueError):
        return False
    return True


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a random secret token (the webhook token), to store instead of the token.

    A fast hash is enough here, unlike for a password: the tokens are 32 random bytes from ``secrets``, so there is
    no dictionary to try and 2**256 guesses cannot be made faster by any hash speed; a slow KDF would only slow
    down every webhook call.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, digest: str | None) -> bool:
    """Whether ``token`` is the one ``digest`` was made from, compared in constant time."""
    if not token or not digest:
        return False
    return secrets.compare_digest(token_digest(token), digest)
