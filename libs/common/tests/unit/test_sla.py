"""The one SLA policy: deadlines on the real Chinese calendar (chinese-calendar data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from yiwang.common.case import Channel, Priority
from yiwang.common.sla import PETITION_POLICY, SlaClass, deadlines_for, policy_for
from yiwang.common.working_days import add_working_days
from yiwang.common.working_days import is_workday as chinese_workday

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def test_the_calendar_knows_national_day_2025_and_its_make_up_days() -> None:
    assert chinese_workday(date(2025, 9, 28))  # a Sunday worked (调休)
    assert not chinese_workday(date(2025, 10, 1))  # National Day
    assert not chinese_workday(date(2025, 10, 8))  # a Wednesday off
    assert chinese_workday(date(2025, 10, 11))  # a Saturday worked


def test_seven_working_days_across_national_day_count_the_make_up_days() -> None:
    received = local(2025, 9, 26, 10, 0)  # a Friday
    # Worked: Sun 9/28 (1), 9/29 (2), 9/30 (3); holiday 10/1-10/8; 10/9 (4), 10/10 (5),
    # Sat 10/11 (6), Mon 10/13 (7). Due by the end of Monday 13 October, local time.
    assert add_working_days(received, 7) == local(2025, 10, 14, 0, 0)
    assert add_working_days(received, 7) == datetime(2025, 10, 13, 16, 0, tzinfo=UTC)
    # A weekday rule would have said Tuesday 7 October, in the middle of the holiday.
    weekdays = add_working_days(received, 7, is_workday=lambda d: d.weekday() < 5)
    assert weekdays == local(2025, 10, 8, 0, 0)


def test_a_normal_case_received_before_spring_festival_2026() -> None:
    received = local(2026, 2, 13, 17, 30)  # Friday before the holiday
    deadlines = deadlines_for(
        policy_for(category="sanitation", priority=Priority.NORMAL, channel=Channel.HOTLINE),
        started_at=received,
    )
    # Sign for it within 1 working day: Saturday 14 February is a make-up working day.
    assert deadlines.response_due == local(2026, 2, 15, 0, 0)
    # Sat 2/14 (1); holiday 2/15-2/23; 2/24 (2) .. 2/27 (5); Sat 2/28 (6); Mon 3/2 (7).
    assert deadlines.resolution_due == local(2026, 3, 3, 0, 0)
    assert deadlines.policy == "hotline-normal"


@pytest.mark.parametrize(
    ("category", "priority", "policy", "response_h", "resolution_h"),
    [
        ("sanitation", Priority.EMERGENCY, "hotline-emergency", 1, 2),
        ("gas-leak", Priority.NORMAL, "hotline-emergency", 1, 2),  # risk to life
        ("water-outage", Priority.NORMAL, "hotline-urgent", 2, 24),  # utilities
        ("gas-leak", Priority.COMPLEX, "hotline-emergency", 1, 2),
        ("noise", Priority.URGENT, "hotline-urgent", 2, 24),
    ],
)
def test_hour_deadlines_follow_priority_raised_by_category(
    category: str, priority: Priority, policy: str, response_h: int, resolution_h: int
) -> None:
    received = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # a public holiday: hours still run
    deadlines = deadlines_for(
        policy_for(category=category, priority=priority, channel=Channel.GRID_WORKER),
        started_at=received,
    )
    assert deadlines.policy == policy
    assert (deadlines.response_due - received).total_seconds() == response_h * 3600
    assert (deadlines.resolution_due - received).total_seconds() == resolution_h * 3600


def test_petitions_get_15_and_60_working_days_extendable_by_30() -> None:
    assert policy_for(category="noise", priority=None, channel=Channel.PETITION) is PETITION_POLICY
    assert (
        policy_for(category="petition-general", priority=None, channel=Channel.PORTAL)
        is PETITION_POLICY
    )
    received = local(2026, 3, 2, 9, 0)  # a Monday
    plain = deadlines_for(PETITION_POLICY, started_at=received)
    # Working days from Tue 3 March: 3-6, 9-13, 16-20 and 23 March make 15.
    assert plain.response_due == local(2026, 3, 24, 0, 0)
    assert plain.resolution_due == end_of_nth_workday(received, 60)  # across Qingming and May Day
    extended = deadlines_for(PETITION_POLICY, started_at=received, extended=True)
    assert extended.resolution_due == end_of_nth_workday(received, 90)


def end_of_nth_workday(start: datetime, n: int) -> datetime:
    """Counted independently of the code under test, straight from chinese-calendar."""
    import chinese_calendar

    day, counted = start.date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return local(day.year, day.month, day.day, 0, 0) + timedelta(days=1)


@pytest.mark.parametrize(
    ("category", "sla_class", "priority", "policy"),
    [
        ("fire-hazard", SlaClass.EMERGENCY, Priority.NORMAL, "hotline-emergency"),
        ("food-safety", SlaClass.URGENT, Priority.NORMAL, "hotline-urgent"),
        ("illegal-construction", SlaClass.COMPLEX, Priority.NORMAL, "hotline-complex"),
        ("illegal-construction", SlaClass.COMPLEX, Priority.URGENT, "hotline-urgent"),
        ("sanitation", SlaClass.GENERAL, Priority.COMPLEX, "hotline-complex"),
        ("sanitation", SlaClass.GENERAL, Priority.NORMAL, "hotline-normal"),
        ("petition-general", SlaClass.PETITION, Priority.NORMAL, "petition"),
    ],
)
def test_the_matrix_class_sets_the_floor(
    category: str, sla_class: SlaClass, priority: Priority, policy: str
) -> None:
    chosen = policy_for(
        category=category, priority=priority, channel=Channel.HOTLINE, sla_class=sla_class
    )
    assert chosen.name == policy


def test_each_escalation_step_gives_half_the_allowed_time_again() -> None:
    received = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
    deadlines = deadlines_for(
        policy_for(category="fire-hazard", priority=None, channel=None, sla_class="emergency"),
        started_at=received,
    )
    assert deadlines.at_level(0) == deadlines.resolution_due == received + timedelta(hours=2)
    assert deadlines.at_level(1) == received + timedelta(hours=3)
    assert deadlines.at_level(2) == received + timedelta(hours=4)
