"""Bounds on what routes take from the path and the query: references, moments, cursors
and pages, so that a value out of range is a 4xx naming the parameter, never a 500."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Path
from yiwang.common.bounds import LocalMoment, in_range
from yiwang.common.problems import field_problem

# A case number (YQ-20261121-00042) or a case id.
Ref = Annotated[str, Path(min_length=1, max_length=64)]
Moment = LocalMoment


def parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """A cursor this API returned: (received_at, case_id) of the last case of a page."""
    try:
        at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return in_range(datetime.fromisoformat(at)), uuid.UUID(case_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_problem(400, "cursor", "not a cursor this API returned") from None
