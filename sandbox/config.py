"""How one sandbox instance behaves: token lifetime, rate limits, webhook delivery."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.limits import PRESETS, RateLimitPreset


@dataclass
class SandboxConfig:
    """Mutable on purpose: tests and ``POST /_sandbox/config`` change it on a running sandbox."""

    token_ttl_seconds: int = 3600  # Zoho access tokens live one hour (expires_in 3600)
    rate_limits: RateLimitPreset = field(default_factory=lambda: PRESETS["zoho"])
    webhook_timeout_s: float = 2.0
    # Zoho does not promise webhook retries; the sandbox tries once so tests see a missed delivery as missed.
    webhook_attempts: int = 1
    # api_domain in token responses; None means the URL the caller used to reach the sandbox.
    public_base_url: str | None = None
    # Who "signs in" on the consent page of /oauth/v2/auth (None: the first portal's owner, the admin), and
    # whether the page approves itself at once (as that person clicking Accept).
    consent_zuid: str | None = None
    consent_auto_approve: bool = True
