"""Department-dispatch settings, from the environment."""

from __future__ import annotations

from pydantic import Field
from yiwang.common.settings import CommonSettings

DEV_SIGNING_KEY = "yiwang-dev-signing-key-change-me"


class DispatchSettings(CommonSettings):
    # Master key from which each department's Kafka reply secret is derived
    # (python -m yiwang.department_dispatch.cli signing-secret <department>). Set it in
    # production; the default only suits a developer machine.
    signing_key: str = Field(default=DEV_SIGNING_KEY, alias="YIWANG_DISPATCH_SIGNING_KEY")
    whistle_sweep_seconds: float = Field(
        default=1.0, alias="YIWANG_DISPATCH_WHISTLE_SWEEP_SECONDS", gt=0
    )
