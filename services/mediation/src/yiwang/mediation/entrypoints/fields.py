"""Bounded input types of the HTTP API: every id has a shape, every text a length, every
time a sane range, and a name is printable text.

The input guard in libs/common already refuses NUL, lone surrogates and bad UTF-8 in any
body or query string; these add what only the route knows. Each is answered as a 422
naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, StringConstraints
from yiwang.common.bounds import AwareMoment

# C0 controls (tab and newline included: a name is one line), DEL and C1 controls.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    found = CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"has the control character U+{ord(found.group()):04X}; a name is printable text"
        )
    return value


# A person's name (a mediator, a party): one line of printable text.
PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_printable)
]
# A time a person enters (a session, a performance deadline).
SaneTime = AwareMoment
# The shape of every id this service makes or is given (med-…, pty-…, m-…).
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
MediationId = Annotated[str, Path(pattern=ID_PATTERN, description="med-…")]
PartyId = Annotated[str, Path(pattern=ID_PATTERN, description="pty-…")]
MediatorPathId = Annotated[str, Path(pattern=ID_PATTERN)]
