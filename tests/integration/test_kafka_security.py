"""The trust boundary on Kafka (the local broker's SASL_SSL listener, its only one): no way
in without a user, a wrong password is refused, and a service's user reaches only its own
topics and consumer groups. That every service can do all it needs as its own user is
what the rest of the suite shows: every service there runs as its own user."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from support import KAFKA_USERS, kafka_options, new_topic_prefix
from yiwang.common.departments import Department
from yiwang.common.kafka_acls import topics_of
from yiwang.common.kafka_security import KafkaSecurity
from yiwang.common.topic_admin import TopicsNotCreated, create_topics
from yiwang.common.topics import (
    CASE_RECEIVED,
    CASE_ROUTED,
    INTAKE_SUBMISSIONS,
    OVERSIGHT_ALERTS,
    department_topic,
)

pytestmark = pytest.mark.integration

PREFIX = new_topic_prefix()
DEPARTMENT_TOPIC = department_topic(Department.HEALTH)


@pytest.fixture(scope="module")
def local(infra: dict[str, str]) -> dict[str, str]:
    """The local stack's SASL_SSL broker, with the service users' ACLs for this module."""
    # These tests prove the local stack's broker refuses what it must: run elsewhere, they
    # fail saying so rather than pass without proving anything.
    assert infra.get("KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", "needs the local SASL_SSL broker"
    assert KAFKA_USERS.env_of("intake"), "needs the local stack's service users"
    KAFKA_USERS.grant(PREFIX)
    asyncio.run(create_topics(bootstrap_servers=infra["KAFKA_BOOTSTRAP_SERVERS"], prefix=PREFIX))
    return infra


def user(infra: dict[str, str], service: str, *, password: str | None = None) -> dict[str, Any]:
    env = KAFKA_USERS.env_of(service)
    security = KafkaSecurity(
        protocol="SASL_SSL",
        username=env["KAFKA_SASL_USERNAME"],
        password=env["KAFKA_SASL_PASSWORD"] if password is None else password,
        ca_file=infra["KAFKA_SSL_CA_FILE"],
    )
    return {
        "bootstrap_servers": infra["KAFKA_BOOTSTRAP_SERVERS"],
        "request_timeout_ms": 10000,
        **security.client_options(),
    }


async def start_and_poll(consumer: AIOKafkaConsumer) -> None:
    """A refusal comes when the consumer starts, or at its first poll."""
    await consumer.start()
    await asyncio.wait_for(consumer.getmany(timeout_ms=5000), 30)


async def refused(**options: Any) -> None:
    admin = AIOKafkaAdminClient(**options)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(admin.start(), 60)
    await admin.close()


async def test_a_client_without_credentials_cannot_connect(local: dict[str, str]) -> None:
    bootstrap = local["KAFKA_BOOTSTRAP_SERVERS"]
    await refused(bootstrap_servers=bootstrap, request_timeout_ms=5000)  # PLAINTEXT
    tls_only = ssl.create_default_context(cafile=local["KAFKA_SSL_CA_FILE"])
    await refused(
        bootstrap_servers=bootstrap,
        security_protocol="SSL",
        ssl_context=tls_only,
        request_timeout_ms=5000,
    )


async def test_a_wrong_password_or_an_unknown_user_is_refused(local: dict[str, str]) -> None:
    await refused(**user(local, "intake", password="not-the-password"))
    nobody = {**user(local, "intake"), "sasl_plain_username": "yiwang-nobody"}
    await refused(**nobody)


async def test_the_harness_user_connects(local: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(local["KAFKA_BOOTSTRAP_SERVERS"]))
    await admin.start()
    try:
        assert PREFIX + CASE_ROUTED in await admin.list_topics()
    finally:
        await admin.close()


async def test_a_service_user_cannot_read_a_topic_it_does_not_consume(
    local: dict[str, str],
) -> None:
    topic = PREFIX + DEPARTMENT_TOPIC
    consumer = AIOKafkaConsumer(
        topic, **user(local, "intake"), group_id=PREFIX + "yiwang-intake",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await start_and_poll(consumer)
    finally:
        await consumer.stop()


async def test_a_service_user_cannot_write_a_topic_it_does_not_produce(
    local: dict[str, str],
) -> None:
    producer = AIOKafkaProducer(**user(local, "intake"), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for topic in (CASE_ROUTED, OVERSIGHT_ALERTS, DEPARTMENT_TOPIC):
            with pytest.raises(TopicAuthorizationFailedError):
                await asyncio.wait_for(producer.send_and_wait(PREFIX + topic, b"{}"), 30)
        # and what it produces, it may
        written = await producer.send_and_wait(PREFIX + CASE_RECEIVED, b"{}", key=b"k")
        assert written.offset >= 0
    finally:
        await producer.stop()


async def test_a_service_user_consumes_only_in_its_own_groups(local: dict[str, str]) -> None:
    topic = PREFIX + INTAKE_SUBMISSIONS
    own = AIOKafkaConsumer(
        topic, **user(local, "intake"), group_id=PREFIX + "yiwang-intake",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    try:
        await own.start()
        await asyncio.wait_for(own.getmany(timeout_ms=2000), 30)
        await own.commit()
    finally:
        await own.stop()
    other = AIOKafkaConsumer(
        topic, **user(local, "intake"), group_id=PREFIX + "yiwang-oversight",
        enable_auto_commit=False,
    )  # fmt: skip
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await start_and_poll(other)
    finally:
        await other.stop()


async def test_a_service_user_creates_its_own_topics_and_no_others(local: dict[str, str]) -> None:
    prefix = new_topic_prefix()
    KAFKA_USERS.grant(prefix)
    env = KAFKA_USERS.env_of("mediation")
    security = KafkaSecurity(
        protocol="SASL_SSL",
        username=env["KAFKA_SASL_USERNAME"],
        password=env["KAFKA_SASL_PASSWORD"],
        ca_file=local["KAFKA_SSL_CA_FILE"],
    )
    bootstrap = local["KAFKA_BOOTSTRAP_SERVERS"]
    own = topics_of("mediation")
    created = await create_topics(
        bootstrap_servers=bootstrap, prefix=prefix, security=security, only=own
    )
    assert sorted(created) == sorted(prefix + t for t in own)
    with pytest.raises(TopicsNotCreated, match="TopicAuthorizationFailed"):
        await create_topics(
            bootstrap_servers=bootstrap, prefix=prefix, security=security, only=[CASE_RECEIVED]
        )
