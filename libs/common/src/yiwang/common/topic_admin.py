"""Topic administration: create the registered topics on a cluster.

`python -m yiwang.common.topic_admin create` creates the missing ones (with their
dead-letter topics); running it again changes nothing. `list` prints the registry.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Collection
from typing import Any

from yiwang.common.kafka_security import KafkaSecurity, KafkaSecurityError, kafka_security
from yiwang.common.topics import (
    DAY_MS,
    DEAD_LETTER_RETENTION_DAYS,
    TOPICS,
    all_topic_names,
    dead_letter_topic,
)

# CreateTopics error codes: none, and "already exists" (a concurrent creator got there
# first, which is the outcome we wanted anyway).
_CREATED_OR_THERE = {0, 36}


class TopicsNotCreated(RuntimeError):
    """The broker refused to create some topics (not allowed to, or a bad setting)."""


async def create_topics(
    *,
    bootstrap_servers: str,
    replication_factor: int = 1,
    prefix: str = "",
    security: KafkaSecurity | None = None,
    only: Collection[str] | None = None,
) -> list[str]:
    """Create every registered topic, and dead-letter topic, that does not exist yet (with
    `only`, those of these unprefixed names); return the names created. Connects with
    `security`, or the environment's Kafka security settings."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    security = security if security is not None else kafka_security()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="yiwang-topics", **security.client_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        dlq_config = {"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)}
        for spec in TOPICS:
            name = prefix + spec.name
            if only is None or spec.name in only:
                wanted.append(
                    NewTopic(
                        name, spec.partitions, replication_factor, topic_configs=spec.kafka_config()
                    )
                )
            if spec.consumed and (only is None or spec.dead_letter in only):
                wanted.append(
                    NewTopic(
                        dead_letter_topic(name), 1, replication_factor, topic_configs=dlq_config
                    )
                )
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            refused = _refusals(await admin.create_topics(missing))
            if refused:
                raise TopicsNotCreated(f"the broker refused to create {'; '.join(refused)}")
        return [t.name for t in missing]
    finally:
        await admin.close()


def _refusals(response: Any) -> list[str]:
    """Each topic the broker did not create, with its reason (CreateTopics answers per topic
    and raises nothing)."""
    from aiokafka.errors import for_code

    refused = []
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        if code not in _CREATED_OR_THERE:
            message = topic_error[2] if len(topic_error) > 2 and topic_error[2] else ""
            reason = for_code(code).__name__ + (f": {message}" if message else "")
            refused.append(f"{name} ({reason})")
    return refused


def main(argv: list[str] | None = None) -> int:
    from yiwang.common.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m yiwang.common.topic_admin")
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
                security=kafka_security(settings),
            )
        )
    except KafkaSecurityError as exc:
        print(f"yiwang-topics: {exc}", file=sys.stderr)
        return 1
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
