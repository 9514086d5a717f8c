"""Deciding many submissions at once, in submission order, as if they came one by one.

The batch looks up what is stored (idempotency keys, open cases nearby) once for the lot;
what the batch itself makes is remembered here, so a retry later in the same batch finds
the case an earlier submission opened, and a report near an earlier one of the same
category is linked to it, exactly as if the earlier one had been stored first.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.case import Channel
from yiwang.common.categories import CATEGORIES
from yiwang.common.envelope import Envelope
from yiwang.common.events import SubmitCase
from yiwang.common.personal_data import scrub
from yiwang.intake.domain.admission import (
    IdempotencyKey,
    IdempotencyKeyReused,
    IntakePolicy,
    check_same_request,
    fingerprint,
    normalised_point,
)
from yiwang.intake.domain.case import DuplicateMatch, DuplicateWindow, OpenCase, find_master
from yiwang.intake.domain.open311 import check_attributes
from yiwang.intake.domain.submission import (
    CaseSubmission,
    SubmissionInvalid,
    check_submission,
    platform_submission,
)

# What every phone, ID number and e-mail address has (full-width forms too).
_MAYBE_PERSONAL = re.compile(r"[0-9０-９@＠]")


@dataclass(frozen=True, slots=True)
class SubmissionRequest:
    """One submission to admit. From Kafka, the platform's command and its record: the
    command is read as a submission with the other checks, and a refusal is answered on
    the rejection topic.

    `submitted_by`: the platform (or the person's audit name) the case is kept for;
    `actor`: who the timeline says acted; `refusal`: already refused (a record whose
    signature failed); `position`: the record's topic:partition:offset."""

    submission: CaseSubmission | SubmitCase
    idempotency: IdempotencyKey | None = None
    api_key_id: str | None = None
    with_token: bool = False
    record: Envelope[SubmitCase] | None = None
    submitted_by: str | None = None
    actor: str | None = None
    refusal: SubmissionInvalid | None = None
    position: str | None = None


@dataclass(frozen=True, slots=True)
class Admitted:
    case_id: uuid.UUID
    case_number: str
    created: bool  # False: a retry of a submission that already has its case
    duplicate_of: str | None = None  # the master case number, when linked as a duplicate
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    error: SubmissionInvalid  # names the field and the reason
    answered: bool = True  # False: a redelivered record, answered the first time


@dataclass(frozen=True, slots=True)
class Checked:
    """A submission that passed every check needing no database. Its title and
    description are scrubbed of personal data; `original` holds them as sent when that
    changed them (they are sealed with the reporter's personal data)."""

    submission: CaseSubmission
    point: tuple[float, float] | None  # WGS-84, inside the county
    request_hash: str
    idempotency: IdempotencyKey | None
    original: tuple[str | None, str | None] = (None, None)  # (title, description)


@dataclass(frozen=True, slots=True)
class RecordedKey:
    """An idempotency key already used, and the case it opened."""

    case_id: uuid.UUID
    case_number: str
    request_hash: str
    master_case_number: str | None


@dataclass(frozen=True, slots=True)
class Opening:
    """A new case; linked to `master` when it is a duplicate."""

    case_id: uuid.UUID
    case_number: str
    master: DuplicateMatch | None


@dataclass(frozen=True, slots=True)
class Repeat:
    """A retry of a submission that already has its case."""

    case_id: uuid.UUID
    case_number: str
    duplicate_of: str | None


Decision = Opening | Repeat | IdempotencyKeyReused


def check(request: SubmissionRequest, *, policy: IntakePolicy, now: datetime) -> Checked | Refused:
    """Every check that needs no database, in the order a sender would fix them."""
    if request.refusal is not None:
        return Refused(request.refusal)
    try:
        submission = request.submission
        if isinstance(submission, SubmitCase):
            submission = platform_submission(submission)
        check_submission(submission, now=now)
        check_attributes(
            CATEGORIES[submission.category],
            submission.attributes,
            required_enforced=submission.channel is Channel.OPEN311,
        )
        point = normalised_point(submission.location, policy)
    except SubmissionInvalid as exc:
        return Refused(exc)
    request_hash = fingerprint(submission)  # of what was sent
    visible, original = scrubbed(submission)
    return Checked(visible, point, request_hash, request.idempotency, original)


def scrubbed(
    submission: CaseSubmission,
) -> tuple[CaseSubmission, tuple[str | None, str | None]]:
    """The submission with phones, ID numbers and e-mail addresses taken out of its title
    and description; and the originals of those that changed."""
    if not _MAYBE_PERSONAL.search(submission.title + submission.description):
        return submission, (None, None)  # no digit, no '@': nothing to take out
    title, description = scrub(submission.title), scrub(submission.description)
    if not (title.changed or description.changed):
        return submission, (None, None)
    visible = submission.model_copy(update={"title": title.text, "description": description.text})
    return visible, (
        submission.title if title.changed else None,
        submission.description if description.changed else None,
    )


def decide(
    checked: Sequence[Checked],
    *,
    recorded: Mapping[IdempotencyKey, RecordedKey],
    nearby: Sequence[Sequence[OpenCase]],
    numbers: Iterator[str],
    case_ids: Iterator[uuid.UUID],
    window: DuplicateWindow,
    now: datetime,
    at: datetime,
) -> list[Decision]:
    """One decision per checked submission. `nearby[i]`: stored open cases around the i-th
    point; `numbers` and `case_ids`: the numbers and ids of the cases opened, in order;
    `now`: when this batch was received; `at`: when the duplicate window is measured
    (after the locks were held)."""
    keys = dict(recorded)
    opened_here = _OpenedHere(window)
    decisions: list[Decision] = []
    for item, stored in zip(checked, nearby, strict=True):
        key = item.idempotency
        found = keys.get(key) if key is not None else None
        if key is not None and found is not None:
            try:
                check_same_request(
                    recorded_hash=found.request_hash, request_hash=item.request_hash, key=key
                )
            except IdempotencyKeyReused as exc:
                decisions.append(exc)
                continue
            decisions.append(Repeat(found.case_id, found.case_number, found.master_case_number))
            continue
        category, point = item.submission.category, item.point
        master = None
        if point is not None:
            candidates = [*stored, *opened_here.near(category, window.bounding_box(*point))]
            master = find_master(candidates, lon=point[0], lat=point[1], at=at, window=window)
        opening = Opening(next(case_ids), next(numbers), master)
        decisions.append(opening)
        if key is not None:
            keys[key] = RecordedKey(
                opening.case_id,
                opening.case_number,
                item.request_hash,
                master.master.case_number if master else None,
            )
        if point is not None and master is None:
            opened_here.add(
                category, OpenCase(opening.case_id, opening.case_number, *point, now, 1)
            )
    return decisions


def reporter_counts(
    decisions: Sequence[Decision], *, counted_before: Mapping[uuid.UUID, int]
) -> tuple[dict[int, int], dict[uuid.UUID, int]]:
    """The master's reporter count with each duplicate (by position), and every master's
    count at the end. `counted_before`: stored masters' counts before this batch; a master
    opened in this batch starts at its one reporter."""
    counts = dict(counted_before)
    with_duplicate: dict[int, int] = {}
    for position, decision in enumerate(decisions):
        if isinstance(decision, Opening) and decision.master is not None:
            master_id = decision.master.master.case_id
            counts[master_id] = counts.get(master_id, 1) + 1
            with_duplicate[position] = counts[master_id]
    return with_duplicate, counts


class _OpenedHere:
    """Cases this batch opened that can take duplicates, by category and grid cell."""

    def __init__(self, window: DuplicateWindow) -> None:
        self._cell = max(2 * window.radius_m / 111_000, 1e-4)
        self._cells: dict[tuple[str, int, int], list[OpenCase]] = {}

    def add(self, category: str, case: OpenCase) -> None:
        cell = (category, math.floor(case.lon / self._cell), math.floor(case.lat / self._cell))
        self._cells.setdefault(cell, []).append(case)

    def near(self, category: str, area: tuple[float, float, float, float]) -> list[OpenCase]:
        """Those in the cells `area` (the duplicate radius around a point) touches."""
        if not self._cells:
            return []
        min_lon, min_lat, max_lon, max_lat = area
        return [
            case
            for i in range(math.floor(min_lon / self._cell), math.floor(max_lon / self._cell) + 1)
            for j in range(math.floor(min_lat / self._cell), math.floor(max_lat / self._cell) + 1)
            for case in self._cells.get((category, i, j), ())
        ]
