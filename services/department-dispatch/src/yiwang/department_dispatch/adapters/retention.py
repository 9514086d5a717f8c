"""How long department-dispatch keeps rejected replies (the record of refused and forged
replies): as long as dept.replies.v1 keeps the records they refused, plus the grace."""

from __future__ import annotations

from yiwang.common.retention import Retained, topic_retention_days
from yiwang.common.settings import CommonSettings
from yiwang.common.topics import DEPT_REPLIES


def retained(settings: CommonSettings) -> tuple[Retained, ...]:
    days = topic_retention_days(DEPT_REPLIES) + settings.retention_grace_days
    return (Retained("reply_rejection", "at", days),)
