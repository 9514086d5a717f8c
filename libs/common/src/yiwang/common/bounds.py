"""Bounds on the times a route takes, written once for every service: a moment outside the
years 2000-2100 is a 422 naming its field, never a 500 from date arithmetic further in
(0001-01-01 minus a day overflows).

- `AwareMoment`: an instant with its zone (2026-11-25T09:00:00+08:00);
- `LocalMoment`: one without a zone is read in Asia/Shanghai, the county's time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_year(moment: datetime) -> datetime:
    """The moment, if it lies within FIRST_YEAR-LAST_YEAR in the county's time, or is the
    first instant after them (the exclusive end of a period that runs to the last day);
    else ValueError (a 422). In the county's time, because a period of local days starts at
    local midnight: 2000-01-01 00:00 in Shanghai is 1999-12-31 16:00 UTC."""
    refused = ValueError(f"must be within the years {FIRST_YEAR}-{LAST_YEAR}")
    if not FIRST_YEAR - 1 <= moment.year <= LAST_YEAR + 1:
        raise refused  # before any arithmetic: year 1 or 9999 has no neighbour to shift to
    local = moment.astimezone(SHANGHAI) if moment.tzinfo is not None else moment
    if FIRST_YEAR <= local.year <= LAST_YEAR or _end_of_range(local):
        return moment
    raise refused


def _end_of_range(local: datetime) -> bool:
    return local.replace(tzinfo=None) == datetime(LAST_YEAR + 1, 1, 1)


def in_range(moment: datetime) -> datetime:
    """check_year, and a moment without a zone read in Asia/Shanghai."""
    check_year(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)


AwareMoment = Annotated[AwareDatetime, AfterValidator(check_year)]
LocalMoment = Annotated[datetime, AfterValidator(in_range)]
