from datetime import UTC, datetime, timedelta

import pytest
from yiwang.common.case import Channel
from yiwang.common.categories import CATEGORIES
from yiwang.common.personal_data import mask_id_number, mask_name, mask_phone
from yiwang.intake.domain.admission import (
    IdempotencyKey,
    IdempotencyKeyReused,
    IntakePolicy,
    check_same_request,
    duplicate_lock_names,
    fingerprint,
    idempotency_key_for,
    normalised_point,
)
from yiwang.intake.domain.case import DuplicateWindow, OpenCase, case_number, find_master
from yiwang.intake.domain.open311 import (
    AttributeInvalid,
    check_attributes,
    open311_status,
    status_note,
)
from yiwang.intake.domain.submission import (
    CaseSubmission,
    ChannelDetailsMismatch,
    LocationOutsideCounty,
    PetitionerMissing,
    TimeInTheFuture,
    UnknownServiceCode,
    check_submission,
)

NOW = datetime(2026, 11, 21, 16, 30, tzinfo=UTC)  # 00:30 on the 22nd in Shanghai
POLICY = IntakePolicy.of(
    county_code="YQ",
    county_name="阳泉示范县",
    bbox=(113.2, 37.6, 113.9, 38.2),
    radius_m=250,
    window_hours=24,
)


def submission(**changes: object) -> CaseSubmission:
    fields: dict[str, object] = {
        "channel": "portal",
        "category": "sanitation",
        "title": "垃圾",
        "description": "未清运",
        "location": {"lon": 113.58, "lat": 37.86},
    }
    fields.update(changes)
    return CaseSubmission.model_validate(fields)


def test_case_numbers_are_short_and_use_the_day_in_shanghai() -> None:
    assert case_number(county_code="YQ", received_at=NOW, sequence=42) == "YQ-20261122-00042"


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"category": "ufo"}, UnknownServiceCode, "category"),
        ({"channel": "hotline"}, ChannelDetailsMismatch, "hotline"),
        ({"grid_worker": {"worker_id": "w1"}}, ChannelDetailsMismatch, "grid_worker"),
        ({"channel": "platform"}, ChannelDetailsMismatch, "source"),
        (
            {"channel": "petition", "petition": {"form": "letter"}},
            PetitionerMissing,
            "reporter.name",
        ),
        (
            {"channel": "petition", "petition": {"form": "visit"}, "reporter": {"name": "赵六"}},
            PetitionerMissing,
            "reporter.phone",
        ),
        ({"reported_at": (NOW + timedelta(hours=1)).isoformat()}, TimeInTheFuture, "reported_at"),
    ],
)
def test_each_check_names_the_field(
    changes: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        check_submission(submission(**changes), now=NOW)
    assert caught.value.field == field  # type: ignore[attr-defined]


def test_points_are_normalised_and_must_be_in_the_county() -> None:
    assert normalised_point(submission().location, POLICY) == (113.58, 37.86)
    with pytest.raises(LocationOutsideCounty, match="outside 阳泉示范县"):
        normalised_point(submission(location={"lon": 116.4, "lat": 39.9}).location, POLICY)
    assert (
        normalised_point(submission(location={"address": "桃北中街5号"}).location, POLICY) is None
    )


def test_masks_show_enough_to_recognise_and_no_more() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0353-1234567") == "035****4567"
    assert mask_id_number("140302198805061234") == "140302********1234"


def test_duplicates_are_the_nearest_open_case_within_radius_and_window() -> None:
    window = DuplicateWindow(250, timedelta(hours=24))
    near = OpenCase(
        __import__("uuid").uuid4(), "YQ-1", 113.5800, 37.8600, NOW - timedelta(hours=2), 1
    )
    nearer = OpenCase(
        __import__("uuid").uuid4(), "YQ-2", 113.5805, 37.8601, NOW - timedelta(hours=1), 1
    )
    stale = OpenCase(
        __import__("uuid").uuid4(), "YQ-3", 113.5806, 37.8601, NOW - timedelta(hours=30), 1
    )
    far = OpenCase(__import__("uuid").uuid4(), "YQ-4", 113.5900, 37.8601, NOW, 1)
    match = find_master(
        [near, nearer, stale, far], lon=113.5806, lat=37.8601, at=NOW, window=window
    )
    assert match is not None
    assert match.master.case_number == "YQ-2"
    assert find_master([far, stale], lon=113.5806, lat=37.8601, at=NOW, window=window) is None


def test_nearby_submissions_share_a_duplicate_lock() -> None:
    window = DuplicateWindow(250, timedelta(hours=24))
    a = set(duplicate_lock_names("noise", (113.5800, 37.8600), window))
    b = set(duplicate_lock_names("noise", (113.5820, 37.8610), window))  # ~200 m away
    c = set(duplicate_lock_names("noise", (113.6500, 37.9000), window))
    assert a & b
    assert not a & c
    assert all(name.startswith("dup:noise:") for name in a)


def test_idempotency_prefers_the_source_and_refuses_a_changed_body() -> None:
    platform = submission(channel="platform", source={"system": "yq", "external_id": "e1"})
    assert idempotency_key_for(platform, "h1", "k1") == IdempotencyKey("source:yq", "e1")
    assert idempotency_key_for(submission(), "h1", "k1") == IdempotencyKey("header:k1", "h1")
    assert idempotency_key_for(submission(), None, "k1") is None
    key = IdempotencyKey("header:k1", "h1")
    check_same_request(
        recorded_hash=fingerprint(submission()), request_hash=fingerprint(submission()), key=key
    )
    with pytest.raises(IdempotencyKeyReused, match="already used"):
        check_same_request(
            recorded_hash=fingerprint(submission()),
            request_hash=fingerprint(submission(title="另")),
            key=key,
        )


def test_open311_attributes_and_status() -> None:
    fire = CATEGORIES["fire-hazard"]
    check_attributes(fire, {"hazard_level": "high"})
    for given, field in (({}, "attribute[hazard_level]"), ({"hazard_level": "huge"}, "attribute[hazard_level]"),
                         ({"hazard_level": "low", "x": "1"}, "attribute[x]")):  # fmt: skip
        with pytest.raises(AttributeInvalid) as caught:
            check_attributes(fire, given)
        assert caught.value.field == field
    with pytest.raises(AttributeInvalid, match="whole number"):
        check_attributes(CATEGORIES["neighbour-dispute"], {"parties_count": "two"})
    assert open311_status("in_progress") == "open"
    assert open311_status("resolved") == "closed"
    assert (
        status_note("returned", "不属于本部门职责")
        == "部门退单，重新分派中 Returned by the department, being re-routed: 不属于本部门职责"
    )
    assert Channel.OPEN311.value == "open311"
