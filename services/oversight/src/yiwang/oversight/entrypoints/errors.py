"""Domain refusals as HTTP errors that name the field and the reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException
from yiwang.common.states import IllegalTransition
from yiwang.oversight.domain.evaluation import CaseNotFound, CaseNotResolved
from yiwang.oversight.domain.sla import ExtensionNotAllowed
from yiwang.oversight.reports import BadPeriod


def problem(status: int, location: str, field: str, reason: str) -> HTTPException:
    """The same shape as FastAPI's own validation errors: detail[].loc and detail[].msg."""
    return HTTPException(status, detail=[{"loc": [location, field], "msg": reason}])


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except CaseNotFound as exc:
        raise problem(404, "path", "case_id", str(exc)) from None
    except (CaseNotResolved, IllegalTransition, ExtensionNotAllowed) as exc:
        raise problem(409, "path", "case_id", str(exc)) from None
    except BadPeriod as exc:
        raise problem(422, "query", exc.field, exc.reason) from None
