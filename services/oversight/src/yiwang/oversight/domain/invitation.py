"""Residents' one-time evaluation tokens (pure).

When a case is resolved (and mediation does not hold it), oversight issues one token for
that resolution: random, handed to the reporter's channel in `EvaluationInvited`, and kept
here only as its SHA-256. It is valid once, while the case is still resolved by that same
resolution, and until the close timer fires (`expires_at`). A resident evaluates with it
and no other credential; a wrong, used or expired token is refused (403, field `token`).
The token itself is drawn by the handler: nothing here is random.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from yiwang.common.states import CaseState
from yiwang.oversight.domain.escalation import OversightPolicy, close_due
from yiwang.oversight.domain.projection import CaseProjection

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters


class EvaluationTokenRefused(PermissionError):
    """The evaluation token is missing, wrong, used or expired: 403 naming `token`."""

    status = 403
    field = "token"
    code = "evaluation_token_refused"

    def __init__(self, case_id: str, reason: str) -> None:
        self.case_id = case_id
        self.reason = reason
        super().__init__(f"case '{case_id}': {reason}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as oversight keeps it: its hash, the resolution it is for, its expiry."""

    token_hash: str
    case_id: str
    resolved_at: datetime
    expires_at: datetime
    issued_at: datetime
    used_at: datetime | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_expiry(
    case: CaseProjection, *, policy: OversightPolicy, now: datetime
) -> datetime | None:
    """When a token for the case's current resolution would expire (its close timer), if
    the case should get one now: resolved, not held by mediation, close timer still ahead."""
    expires = close_due(case, policy=policy)
    return expires if expires is not None and expires > now else None


def check_token(
    issued: IssuedToken | None,
    case: CaseProjection | None,
    *,
    case_id: str,
    presented: bool,
    now: datetime,
) -> IssuedToken:
    """The token that may be used for this evaluation now, or EvaluationTokenRefused."""
    if not presented:
        raise EvaluationTokenRefused(
            case_id,
            "the evaluation token is required: the one the reporter was given when the case "
            "was resolved (EvaluationInvited)",
        )
    if issued is None or case is None:
        raise EvaluationTokenRefused(case_id, "the evaluation token is not valid for this case")
    if issued.used_at is not None:
        raise EvaluationTokenRefused(case_id, "the evaluation token has been used already")
    current = case.state is CaseState.RESOLVED and case.resolved_at == issued.resolved_at
    if not current or now >= issued.expires_at:
        state = case.state.value if case.state else "unknown"
        raise EvaluationTokenRefused(
            case_id,
            f"the evaluation token has expired (valid until {issued.expires_at.isoformat()} "
            f"while the case stays resolved; it is '{state}')",
        )
    return issued
