"""Who may submit what, and who sees which case: the rules of intake's callers.

People submit for the channel they serve (a hotline operator the hotline, a grid worker
the grid-worker channel in their own micro-grids and as themselves, the roster id their
token names; the hub's operators letters, visits and walk-ins); a platform's
key submits any channel, but only as one of its own systems (`source.system`) and only
with the `submit` scope. A platform reads only what its platform submitted, with the
`read` scope; hotline operators, hub operators and auditors read every case. A resolved
case's evaluation token is shown to the platform that submitted it and to hotline
operators, who hand it on to the resident.
"""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.auth import Actor, Forbidden, Role
from yiwang.common.case import Channel
from yiwang.intake.domain.submission import CaseSubmission

CHANNELS_SERVED: dict[Role, frozenset[Channel]] = {
    Role.HOTLINE_OPERATOR: frozenset({Channel.HOTLINE}),
    Role.GRID_WORKER: frozenset({Channel.GRID_WORKER}),
    Role.HUB_OPERATOR: frozenset({Channel.PETITION, Channel.PORTAL}),
}
EVERY_CASE = frozenset({Role.HOTLINE_OPERATOR, Role.HUB_OPERATOR, Role.AUDITOR})


class ScopeMissing(Forbidden):
    """A platform's key without the scope a route needs."""


class ChannelNotServed(Forbidden):
    field = "channel"


class SystemNotYours(Forbidden):
    field = "source.system"


class MicroGridNotYours(Forbidden):
    field = "grid_worker.micro_grid_hint"


class WorkerNotYou(Forbidden):
    """A grid worker reports as themselves (信息员): the roster id their token names."""

    field = "grid_worker.worker_id"


def check_scope(*, platform: str, scopes: frozenset[str], scope: str) -> None:
    if scope not in scopes:
        raise ScopeMissing(f"the API key of '{platform}' lacks the '{scope}' scope")


def check_platform_submission(
    submission: CaseSubmission, *, platform: str, systems: frozenset[str]
) -> None:
    """A platform submits only as its own systems."""
    source = submission.source
    if source is not None and source.system not in systems:
        raise SystemNotYours(
            f"'{platform}' submits as {', '.join(sorted(systems))}, not '{source.system}'"
        )


def check_person_submission(submission: CaseSubmission, actor: Actor) -> None:
    """A person submits for a channel they serve, never as a platform's system, and a grid
    worker only in their own micro-grids."""
    served = frozenset().union(*(CHANNELS_SERVED.get(role, frozenset()) for role in actor.roles))
    if submission.channel not in served:
        allowed = ", ".join(sorted(c.value for c in served)) or "none"
        raise ChannelNotServed(
            f"{actor.audit_name} submits for the channels they serve ({allowed}), "
            f"not '{submission.channel.value}'"
        )
    if submission.source is not None:
        raise SystemNotYours(
            f"{actor.audit_name} is a person: only a platform's key submits as a system"
        )
    hints = {
        submission.location.micro_grid_hint,
        submission.grid_worker.micro_grid_hint if submission.grid_worker else None,
    } - {None}
    if submission.channel is Channel.GRID_WORKER and not hints <= actor.micro_grids:
        raise MicroGridNotYours(
            f"{actor.audit_name} works in {', '.join(sorted(actor.micro_grids)) or 'no micro-grid'}"
            f", not {', '.join(sorted(h for h in hints if h))}"
        )
    reported_as = submission.grid_worker.worker_id if submission.grid_worker else None
    if (
        submission.channel is Channel.GRID_WORKER
        and actor.grid_worker is not None
        and reported_as != actor.grid_worker
    ):
        raise WorkerNotYou(
            f"{actor.audit_name} is grid worker {actor.grid_worker} on the roster, "
            f"not {reported_as or 'nobody'}"
        )


@dataclass(frozen=True, slots=True)
class Reader:
    """What a caller reads: `submitters` None for every case, else only cases submitted
    by one of these; `evaluations`: whether it sees evaluation tokens (of the cases it
    submitted, for a platform)."""

    submitters: frozenset[str] | None
    evaluations: bool

    @classmethod
    def person(cls, actor: Actor) -> Reader:
        return cls(None, actor.has(Role.HOTLINE_OPERATOR))

    @classmethod
    def platform(cls, submitters: frozenset[str]) -> Reader:
        return cls(submitters, True)

    def may_read(self, submitted_by: str | None) -> bool:
        return self.submitters is None or submitted_by in self.submitters
