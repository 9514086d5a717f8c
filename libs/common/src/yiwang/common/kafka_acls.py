"""Who may do what on Kafka: which service produces and which consumes each topic of the
registry, and the least-privilege ACLs of each service's own Kafka user that follow.

Written once, used everywhere a user is given rights: deploy/k8s/generate.py writes the
Strimzi KafkaUsers from it, the local stack (infra/stack.py) grants it on the local
broker, for the unprefixed topics and for each test run's topic prefix, and services
create only the topics it names for them.

A service user may
  * read (and describe) the topics it consumes, as consumer groups `<prefix>yiwang-<service>…`;
  * write (and describe) the topics it produces and the dead-letter topics of those it
    consumes; Write on a topic also lets its idempotent producer get a producer id, so no
    cluster-wide IdempotentWrite is granted;
  * with `create=True` (the local stack, where services create their topics at start-up),
    create those same topics. Under Strimzi the topic operator creates them: no Create.
Nothing else: no other topic, no other group, no cluster operation.

The operators' dead-letter desk (`yiwang.common.dead_letters_cli`) has a user of its own,
`yiwang-dead-letters`: it reads every dead-letter topic, writes their origin topics (a
replay), and reads and writes the replay log; it reads by assignment, without a group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from yiwang.common.dead_letter_replay import REPLAY_LOG
from yiwang.common.departments import Department
from yiwang.common.topics import (
    CASE_LIFECYCLE,
    CASE_RECEIVED,
    CASE_REOPENED,
    CASE_RETURNED,
    CASE_ROUTED,
    DEPT_REPLIES,
    DISPATCH_WHISTLES,
    GRID_TASKS,
    INTAKE_REJECTIONS,
    INTAKE_SUBMISSIONS,
    MEDIATION_EVENTS,
    OVERSIGHT_ALERTS,
    OVERSIGHT_EVALUATIONS,
    OVERSIGHT_INVITATIONS,
    dead_letter_topic,
    department_topic,
)

INTAKE = "intake"
GRID_ROUTING = "grid-routing"
DEPARTMENT_DISPATCH = "department-dispatch"
MEDIATION = "mediation"
OVERSIGHT = "oversight"
SERVICES = (INTAKE, GRID_ROUTING, DEPARTMENT_DISPATCH, MEDIATION, OVERSIGHT)


@dataclass(frozen=True, slots=True)
class TopicAccess:
    """The Yiwang services that produce and consume one topic. Parties outside Yiwang
    (county platforms, departments, residents' channels) have users of their own."""

    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    others: str = ""  # who else writes or reads it, for the docs


# Every topic of the registry (topics.TOPICS), keyed by its unprefixed name.
ACCESS: dict[str, TopicAccess] = {
    INTAKE_SUBMISSIONS: TopicAccess((), (INTAKE,), "county platforms write"),
    INTAKE_REJECTIONS: TopicAccess((INTAKE,), (), "county platforms read"),
    CASE_RECEIVED: TopicAccess((INTAKE,), (GRID_ROUTING,)),
    CASE_ROUTED: TopicAccess((GRID_ROUTING,), (DEPARTMENT_DISPATCH, MEDIATION, OVERSIGHT)),
    CASE_RETURNED: TopicAccess((DEPARTMENT_DISPATCH, MEDIATION), (GRID_ROUTING,)),
    CASE_REOPENED: TopicAccess((OVERSIGHT,), (DEPARTMENT_DISPATCH, GRID_ROUTING)),
    CASE_LIFECYCLE: TopicAccess(SERVICES, (INTAKE, OVERSIGHT), "county platforms read"),
    DEPT_REPLIES: TopicAccess((), (DEPARTMENT_DISPATCH,), "departments write"),
    DISPATCH_WHISTLES: TopicAccess((DEPARTMENT_DISPATCH,), (OVERSIGHT,)),
    MEDIATION_EVENTS: TopicAccess((MEDIATION,), (OVERSIGHT,)),
    OVERSIGHT_ALERTS: TopicAccess((OVERSIGHT,), (DEPARTMENT_DISPATCH,)),
    OVERSIGHT_EVALUATIONS: TopicAccess((), (OVERSIGHT,), "residents' channels write"),
    OVERSIGHT_INVITATIONS: TopicAccess((OVERSIGHT,), (INTAKE,)),
    GRID_TASKS: TopicAccess((GRID_ROUTING,), (), "the grid-worker app reads"),
    **{
        department_topic(d): TopicAccess((DEPARTMENT_DISPATCH,), (), f"department {d.value} reads")
        for d in Department
    },
}


class Operation(StrEnum):
    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"


class ResourceType(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class PatternType(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefix"


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One allow rule: `principal` may do `operation` on the resource."""

    principal: str
    resource_type: ResourceType
    name: str
    pattern_type: PatternType
    operation: Operation


def service_user(service: str) -> str:
    """The Kafka user (SCRAM) of a service: `yiwang-<service>`."""
    return f"yiwang-{service}"


def consumer_group(service: str, prefix: str = "") -> str:
    """The consumer groups of a service start with this (Runtime.subscribe's default)."""
    return f"{prefix}yiwang-{service}"


def _check(service: str) -> None:
    if service not in SERVICES:
        raise KeyError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")


def produces(service: str) -> list[str]:
    """The registry topics a service writes (unprefixed)."""
    _check(service)
    return sorted(t for t, a in ACCESS.items() if service in a.producers)


def consumes(service: str) -> list[str]:
    """The registry topics a service reads (unprefixed)."""
    _check(service)
    return sorted(t for t, a in ACCESS.items() if service in a.consumers)


def topics_of(service: str) -> list[str]:
    """Every topic a service touches: what it produces and consumes, and the dead-letter
    topics of what it consumes (unprefixed). The topics it creates at start-up."""
    consumed = consumes(service)
    return sorted({*produces(service), *consumed, *(dead_letter_topic(t) for t in consumed)})


def service_acls(service: str, *, prefix: str = "", create: bool = False) -> list[Acl]:
    """The ACLs of a service's user, for topics and groups under `prefix`."""
    user = f"User:{service_user(service)}"
    consumed = consumes(service)
    written = sorted({*produces(service), *(dead_letter_topic(t) for t in consumed)})

    def on_topics(names: Iterable[str], operation: Operation) -> list[Acl]:
        return [
            Acl(user, ResourceType.TOPIC, prefix + n, PatternType.LITERAL, operation) for n in names
        ]

    return [
        *on_topics(consumed, Operation.READ),
        *on_topics(written, Operation.WRITE),
        *(on_topics(topics_of(service), Operation.CREATE) if create else []),
        Acl(
            user,
            ResourceType.GROUP,
            consumer_group(service, prefix),
            PatternType.PREFIXED,
            Operation.READ,
        ),
    ]


def all_service_acls(*, prefix: str = "", create: bool = False) -> list[Acl]:
    """The ACLs of every service's user, for topics and groups under `prefix`."""
    return [acl for s in SERVICES for acl in service_acls(s, prefix=prefix, create=create)]


DEAD_LETTER_DESK = "yiwang-dead-letters"


def dead_letter_desk_acls(*, prefix: str = "", create: bool = False) -> list[Acl]:
    """The ACLs of the dead-letter desk's user, for topics under `prefix`: Read on every
    dead-letter topic and the replay log, Write on the topics they come from (a replay)
    and on the replay log; with `create`, Create on the replay log."""
    user = f"User:{DEAD_LETTER_DESK}"
    origins = sorted(t for t, a in ACCESS.items() if a.consumers)

    def on_topics(names: Iterable[str], operation: Operation) -> list[Acl]:
        return [
            Acl(user, ResourceType.TOPIC, prefix + n, PatternType.LITERAL, operation) for n in names
        ]

    return [
        *on_topics([*(dead_letter_topic(t) for t in origins), REPLAY_LOG], Operation.READ),
        *on_topics([*origins, REPLAY_LOG], Operation.WRITE),
        *(on_topics([REPLAY_LOG], Operation.CREATE) if create else []),
    ]
