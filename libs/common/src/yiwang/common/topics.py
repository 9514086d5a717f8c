"""The topic registry: every topic Yiwang uses, its partitions and configs.

`python -m yiwang.common.topics create` creates the missing ones; running it again
changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field

from yiwang.common.departments import Department

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    retention_days: int = 30
    consumed: bool = True  # consumed by a Yiwang service, so it has a dead-letter topic
    config: dict[str, str] = field(default_factory=dict)

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
CASE_LIFECYCLE = "case.lifecycle.v1"
DEPT_REPLIES = "dept.replies.v1"
DISPATCH_WHISTLES = "dispatch.whistles.v1"
MEDIATION_EVENTS = "mediation.events.v1"
OVERSIGHT_ALERTS = "oversight.alerts.v1"
OVERSIGHT_EVALUATIONS = "oversight.evaluations.v1"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INTAKE_SUBMISSIONS, 6, "county platforms submit cases (SubmitCase)"),
    TopicSpec(INTAKE_REJECTIONS, 3, "submissions intake refused, with reasons", consumed=False),
    TopicSpec(CASE_RECEIVED, 6, "cases accepted by intake"),
    TopicSpec(CASE_ROUTED, 6, "routing decisions: micro-grid, units, lead and assisting"),
    TopicSpec(CASE_RETURNED, 3, "cases a department returned (退单)"),
    TopicSpec(
        CASE_LIFECYCLE, 6, "every state change of every case: the timeline", retention_days=400
    ),
    TopicSpec(DEPT_REPLIES, 6, "department replies: acknowledge, progress, return, resolve"),
    TopicSpec(DISPATCH_WHISTLES, 3, "whistles raised and departments' attendance"),
    TopicSpec(MEDIATION_EVENTS, 3, "people's mediation progress"),
    TopicSpec(OVERSIGHT_ALERTS, 3, "warnings, yellow and red cards, escalations"),
    TopicSpec(OVERSIGHT_EVALUATIONS, 3, "residents' satisfaction evaluations"),
    *(
        TopicSpec(department_topic(d), 3, f"work orders for {d.value}", consumed=False)
        for d in Department
    ),
)


def all_topic_names(*, with_dead_letters: bool = True) -> list[str]:
    names = [t.name for t in TOPICS]
    if with_dead_letters:
        names += [t.dead_letter for t in TOPICS if t.consumed]
    return names


async def create_topics(
    *, bootstrap_servers: str, replication_factor: int = 1, prefix: str = ""
) -> list[str]:
    """Create every registered topic that does not exist yet; return the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="yiwang-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        dlq_config = {"retention.ms": str(90 * DAY_MS)}
        for spec in TOPICS:
            name = prefix + spec.name
            wanted.append(
                NewTopic(
                    name, spec.partitions, replication_factor, topic_configs=spec.kafka_config()
                )
            )
            if spec.consumed:
                wanted.append(
                    NewTopic(
                        dead_letter_topic(name), 1, replication_factor, topic_configs=dlq_config
                    )
                )
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            # The broker answers TopicAlreadyExists per topic (not raised) when a concurrent
            # creator got there first, which is the outcome we wanted anyway.
            await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    from yiwang.common.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m yiwang.common.topics")
    parser.add_argument("command", choices=["create", "list"])
    args = parser.parse_args(argv)
    settings = CommonSettings()
    if args.command == "list":
        for spec in TOPICS:
            print(f"{spec.name:40} {spec.partitions:3}  {spec.purpose}")
        return 0
    try:
        created = asyncio.run(
            create_topics(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                replication_factor=settings.kafka_replication_factor,
                prefix=settings.topic_prefix,
            )
        )
    except Exception as exc:  # a CLI: one line, not a trace
        print(
            f"yiwang-topics: cannot create topics on {settings.kafka_bootstrap_servers}: {exc}. "
            "Is Kafka running (make infra)?",
            file=sys.stderr,
        )
        return 1
    print(f"topics: {len(created)} created, {len(all_topic_names()) - len(created)} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
