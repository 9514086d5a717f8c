"""Case flow counters: state transitions by channel, and states entered by category.

Counted where case.lifecycle.v1 is consumed (oversight, intake), after the handler
returned, so dashboards take `service="oversight"`. A record redelivered after a crash
between the handler's commit and the offset commit counts twice: these are operators'
rates, the exact figures are oversight's reports. Labels are bounded by enums: unknown
categories count as "other", a missing channel or category as "unknown"; transitions are
the state machine's (a few dozen), a new case comes from "none".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import Counter
from yiwang.common.categories import CATEGORIES
from yiwang.common.envelope import Envelope
from yiwang.common.events import CaseStateChanged, Event
from yiwang.common.subscriber import BatchEventHandler, EventHandler

CASE_TRANSITIONS = Counter(
    "yiwang_case_transitions_total",
    "Case state changes seen on case.lifecycle.v1, by transition and channel",
    ["service", "from_state", "to_state", "channel"],
)
CASE_TRANSITIONS_BY_CATEGORY = Counter(
    "yiwang_case_transitions_by_category_total",
    "Case state changes seen on case.lifecycle.v1, by the state entered and the category",
    ["service", "to_state", "category"],
)
UNKNOWN = "unknown"
OTHER = "other"


def category_label(category: str | None) -> str:
    if not category:
        return UNKNOWN
    return category if category in CATEGORIES else OTHER


def count_transition(*, service: str, change: CaseStateChanged) -> None:
    state = change.to_state.value
    previous = change.from_state.value if change.from_state is not None else "none"
    channel = change.channel.value if change.channel is not None else UNKNOWN
    CASE_TRANSITIONS.labels(service, previous, state, channel).inc()
    CASE_TRANSITIONS_BY_CATEGORY.labels(service, state, category_label(change.category)).inc()


def counting_case_transitions(
    handlers: Mapping[type[Event], EventHandler], *, service: str
) -> Mapping[type[Event], EventHandler]:
    """The same handlers, the CaseStateChanged one counting after it returned."""
    inner = handlers.get(CaseStateChanged)
    if inner is None:
        return handlers

    async def handle(envelope: Envelope[Any]) -> None:
        await inner(envelope)
        if isinstance(envelope.payload, CaseStateChanged):
            count_transition(service=service, change=envelope.payload)

    return {**handlers, CaseStateChanged: handle}


def counting_batched_transitions(
    batched: Mapping[type[Event], BatchEventHandler], *, service: str
) -> Mapping[type[Event], BatchEventHandler]:
    """The same for batch handlers: each change of the batch counted after it returned."""
    inner = batched.get(CaseStateChanged)
    if inner is None:
        return batched

    async def handle(envelopes: Sequence[Envelope[Any]]) -> None:
        await inner(envelopes)
        for envelope in envelopes:
            if isinstance(envelope.payload, CaseStateChanged):
                count_transition(service=service, change=envelope.payload)

    # A handler that takes other types too stays one handler, so a poll of them is one batch.
    return {t: handle if h is inner else h for t, h in batched.items()}
