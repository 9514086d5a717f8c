"""Topic administration: create the registered topics on a cluster.

`python -m yiwang.common.topic_admin create` creates the missing ones (with their
dead-letter topics); running it again changes nothing. `list` prints the registry.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from yiwang.common.topics import (
    DAY_MS,
    DEAD_LETTER_RETENTION_DAYS,
    TOPICS,
    all_topic_names,
    dead_letter_topic,
)


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
        dlq_config = {"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)}
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
