import pytest
from pydantic import ValidationError
from yiwang.common.case import CoordinateSystem, Location
from yiwang.common.categories import CATEGORIES, UnknownCategory, check_category
from yiwang.common.events import EVENT_TYPES, CaseRouted, SubmitCase
from yiwang.common.geo import distance_m, gcj02_to_bd09, to_wgs84, wgs84_to_gcj02
from yiwang.common.logs import redact
from yiwang.common.topics import TOPICS, all_topic_names


def test_location_needs_something_to_locate_by() -> None:
    with pytest.raises(ValidationError, match="a location needs coordinates"):
        Location()
    with pytest.raises(ValidationError, match="lon and lat must be given together"):
        Location(lon=112.5)
    assert Location(address="太原市小店区坞城路92号").has_point is False
    assert Location(admin_code="140105").admin_code == "140105"


def test_location_rejects_out_of_range_coordinates_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Location(lon=112.5, lat=95)
    assert caught.value.errors()[0]["loc"] == ("lat",)


@pytest.mark.parametrize("crs", list(CoordinateSystem))
def test_every_coordinate_system_normalises_back_to_the_same_point(crs: CoordinateSystem) -> None:
    wgs = (112.5489, 37.8706)  # Taiyuan, Shanxi
    if crs is CoordinateSystem.GCJ02:
        given = wgs84_to_gcj02(*wgs)
    elif crs is CoordinateSystem.BD09:
        given = gcj02_to_bd09(*wgs84_to_gcj02(*wgs))
    else:
        given = wgs
    back = to_wgs84(*given, crs)
    assert distance_m(*back, *wgs) < 0.5


def test_gcj02_is_offset_by_hundreds_of_metres_in_china() -> None:
    wgs = (112.5489, 37.8706)
    assert 100 < distance_m(*wgs84_to_gcj02(*wgs), *wgs) < 1000


def test_category_taxonomy() -> None:
    assert check_category("food-safety").name_zh == "食品安全"
    assert CATEGORIES["neighbour-dispute"].is_dispute
    with pytest.raises(UnknownCategory, match="unknown category 'ufo'"):
        check_category("ufo")


def test_every_event_type_is_registered_once_and_versioned() -> None:
    assert EVENT_TYPES["yiwang.case.routed.v1"] is CaseRouted
    assert EVENT_TYPES["yiwang.intake.submit-case.v1"] is SubmitCase
    for name in EVENT_TYPES:
        assert name.startswith("yiwang.")
        assert name.rsplit(".", 1)[1].startswith("v")


def test_topic_registry_has_dead_letters_for_consumed_topics() -> None:
    names = all_topic_names()
    assert len(names) == len(set(names))
    assert "case.received.v1.dlq" in names
    assert "dept.market-supervision.cases.v1" in names
    assert "dept.market-supervision.cases.v1.dlq" not in names  # departments consume it, not us
    assert all(t.partitions >= 1 for t in TOPICS)


def test_redaction_takes_phone_and_id_numbers_out_of_log_lines() -> None:
    line = "reporter 13812345678 id 110105199003071234 called from +86 139-1234-5678"
    assert redact(line) == "reporter [手机号] id [身份证号] called from [手机号]"


def test_scaled_clocks_with_one_epoch_agree_across_processes() -> None:
    from datetime import UTC, datetime, timedelta

    from yiwang.common.clock import ScaledClock

    epoch = datetime.now(UTC) - timedelta(seconds=10)
    first, second = ScaledClock(60, epoch=epoch), ScaledClock(60, epoch=epoch)
    assert abs((first.now() - second.now()).total_seconds()) < 1.0
    assert first.now() - epoch > timedelta(minutes=9)  # 10 real seconds at 60x
