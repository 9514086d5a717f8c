"""The topic registry: every topic Yiwang uses, its partitions, retention and purpose.

Names only: creating them on a cluster is `topic_admin`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.common.departments import Department
from yiwang.common.events import (
    CaseEvaluated,
    CaseLeftMediation,
    CaseReceived,
    CaseReopened,
    CaseReturned,
    CaseRouted,
    CaseStateChanged,
    DepartmentReplied,
    DuplicateLinked,
    EvaluationInvited,
    Event,
    GridAssistDone,
    GridAssistRequested,
    GridNoticePublished,
    GridTaskAssigned,
    GridTaskPassedUp,
    GridTaskSettled,
    MediationProgressed,
    OversightAlertRaised,
    RulingMade,
    SubmissionRejected,
    SubmitCase,
    WhistleAttendanceRecorded,
    WhistleBlown,
    WorkOrderCancelled,
    WorkOrderIssued,
    WorkOrderReminder,
)

DAY_MS = 24 * 3600 * 1000
DEAD_LETTER_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    retention_days: int = 30
    consumed: bool = True  # consumed by a Yiwang service, so it has a dead-letter topic
    config: dict[str, str] = field(default_factory=dict)
    # The CloudEvents types a record on this topic may carry: the published contract
    # (docs/asyncapi/) is generated from them.
    events: tuple[type[Event], ...] = ()

    @property
    def dead_letter(self) -> str:
        return dead_letter_topic(self.name)

    def kafka_config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_days * DAY_MS), **self.config}


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def department_topic(department: Department) -> str:
    return f"dept.{department.value}.cases.v1"


INTAKE_SUBMISSIONS = "intake.submissions.v1"
INTAKE_REJECTIONS = "intake.rejections.v1"
CASE_RECEIVED = "case.received.v1"
CASE_ROUTED = "case.routed.v1"
CASE_RETURNED = "case.returned.v1"
CASE_REOPENED = "case.reopened.v1"
CASE_LIFECYCLE = "case.lifecycle.v1"
DEPT_REPLIES = "dept.replies.v1"
DISPATCH_WHISTLES = "dispatch.whistles.v1"
MEDIATION_EVENTS = "mediation.events.v1"
OVERSIGHT_ALERTS = "oversight.alerts.v1"
OVERSIGHT_EVALUATIONS = "oversight.evaluations.v1"
OVERSIGHT_INVITATIONS = "oversight.invitations.v1"
GRID_TASKS = "grid.tasks.v1"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        INTAKE_SUBMISSIONS, 6, "county platforms submit cases (SubmitCase)", events=(SubmitCase,)
    ),
    TopicSpec(
        INTAKE_REJECTIONS,
        3,
        "submissions intake refused, with reasons",
        consumed=False,
        events=(SubmissionRejected,),
    ),
    TopicSpec(CASE_RECEIVED, 6, "cases accepted by intake", events=(CaseReceived,)),
    TopicSpec(
        CASE_ROUTED,
        6,
        "routing decisions: micro-grid, units, lead and assisting",
        events=(CaseRouted,),
    ),
    TopicSpec(
        CASE_RETURNED,
        3,
        "cases a department returned (退单), or mediation handed back",
        events=(CaseReturned, CaseLeftMediation),
    ),
    TopicSpec(
        CASE_REOPENED,
        3,
        "cases reopened for re-handling after an unsatisfied evaluation",
        events=(CaseReopened,),
    ),
    TopicSpec(
        CASE_LIFECYCLE,
        6,
        "every state change of every case: the timeline",
        retention_days=400,
        events=(CaseStateChanged, DuplicateLinked, RulingMade),
    ),
    TopicSpec(
        DEPT_REPLIES,
        6,
        "department replies: acknowledge, progress, return, resolve",
        events=(DepartmentReplied,),
    ),
    TopicSpec(
        DISPATCH_WHISTLES,
        3,
        "whistles raised and departments' attendance",
        events=(WhistleBlown, WhistleAttendanceRecorded),
    ),
    TopicSpec(MEDIATION_EVENTS, 3, "people's mediation progress", events=(MediationProgressed,)),
    TopicSpec(
        OVERSIGHT_ALERTS,
        3,
        "warnings, yellow and red cards, escalations",
        events=(OversightAlertRaised,),
    ),
    TopicSpec(
        OVERSIGHT_EVALUATIONS, 3, "residents' satisfaction evaluations", events=(CaseEvaluated,)
    ),
    TopicSpec(
        OVERSIGHT_INVITATIONS,
        3,
        "one-time evaluation tokens for resolved cases' reporters",
        events=(EvaluationInvited,),
    ),
    TopicSpec(
        GRID_TASKS,
        3,
        "grid workers' tasks: assigned, settled, passed up (小事不出网格); notices, assists",
        consumed=False,
        events=(
            GridTaskAssigned,
            GridTaskSettled,
            GridTaskPassedUp,
            GridNoticePublished,
            GridAssistRequested,
            GridAssistDone,
        ),
    ),
    *(
        TopicSpec(
            department_topic(d),
            3,
            f"work orders for {d.value}",
            consumed=False,
            events=(WorkOrderIssued, WorkOrderCancelled, WorkOrderReminder),
        )
        for d in Department
    ),
)


def all_topic_names(*, with_dead_letters: bool = True) -> list[str]:
    names = [t.name for t in TOPICS]
    if with_dead_letters:
        names += [t.dead_letter for t in TOPICS if t.consumed]
    return names
