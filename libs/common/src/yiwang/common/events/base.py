"""The base of every payload on the wire: a CloudEvents `type` and a subject."""

from __future__ import annotations

from typing import ClassVar

from yiwang.common.case import Contract


class Event(Contract):
    """A payload on the wire. `event_type` is the CloudEvents `type`."""

    event_type: ClassVar[str]

    @property
    def subject(self) -> str:
        """CloudEvents subject and Kafka key: keeps one case's events in order."""
        raise NotImplementedError


class CaseEvent(Event):
    case_id: str

    @property
    def subject(self) -> str:
        return self.case_id
