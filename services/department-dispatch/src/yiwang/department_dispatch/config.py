"""Department-dispatch settings, from the environment."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings

DEV_SIGNING_KEY = "yiwang-dev-signing-key-change-me"


class DispatchSettings(CommonSettings):
    # The key that seals departments' Kafka signing secrets at rest (the secrets themselves
    # are random, per department, rotated with `cli rotate-signing-secret`). Either
    # `kid:base64,kid2:base64` (32 random bytes each; the first seals, all open: rotate it
    # by putting a new key first, then `cli reseal-signing-secrets`), one base64 key, or a
    # passphrase of at least 32 characters. The default only suits a developer machine:
    # outside YIWANG_ENV=development the service refuses to start with it.
    signing_key: str = Field(default=DEV_SIGNING_KEY, alias="YIWANG_DISPATCH_SIGNING_KEY")
    whistle_sweep_seconds: float = Field(
        default=1.0, alias="YIWANG_DISPATCH_WHISTLE_SWEEP_SECONDS", gt=0
    )
