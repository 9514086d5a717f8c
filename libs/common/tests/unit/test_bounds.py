from datetime import datetime

import pytest
from yiwang.common.bounds import SHANGHAI, check_year, in_range


def test_moments_outside_the_years_are_refused() -> None:
    for moment in (
        datetime(1999, 12, 31, 23, 59),
        datetime(2101, 1, 1, 0, 0, 1),
        datetime(1, 1, 1),
    ):
        with pytest.raises(ValueError, match="within the years 2000-2100"):
            check_year(moment)


def test_the_exclusive_end_of_the_last_day_is_taken() -> None:
    """A period to 2100-12-31 ends at 2101-01-01 00:00: intake and dispatch take that end
    from oversight's reconciliation (a 502 before)."""
    end = datetime(2101, 1, 1, tzinfo=SHANGHAI)
    assert check_year(end) == end
    assert in_range(datetime(2101, 1, 1)) == end
    assert check_year(datetime(2000, 1, 1)) == datetime(2000, 1, 1)


def test_years_are_the_countys() -> None:
    """oversight's period of local days starts at local midnight: the first day of 2000
    begins in 1999 in UTC, and intake and dispatch must take it."""
    from datetime import UTC

    start = datetime(1999, 12, 31, 16, 0, tzinfo=UTC)
    assert check_year(start) == start
    with pytest.raises(ValueError, match="within the years"):
        check_year(datetime(1999, 12, 31, 15, 59, tzinfo=UTC))
    end = datetime(2100, 12, 31, 16, 0, tzinfo=UTC)  # 2101-01-01 00:00 in Shanghai
    assert check_year(end) == end
