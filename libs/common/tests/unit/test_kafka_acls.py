"""The Kafka access table: complete, least-privilege, and in step with what the services
actually produce and consume (read from their source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yiwang.common.topics as topics
from yiwang.common.departments import Department
from yiwang.common.kafka_acls import (
    ACCESS,
    SERVICES,
    Operation,
    PatternType,
    ResourceType,
    consumes,
    produces,
    service_acls,
    topics_of,
)
from yiwang.common.topics import TOPICS, dead_letter_topic, department_topic

ROOT = Path(__file__).resolve().parents[4]


def granted(service: str, operation: Operation, *, prefix: str = "") -> set[str]:
    return {
        a.name
        for a in service_acls(service, prefix=prefix, create=True)
        if a.resource_type == ResourceType.TOPIC and a.operation == operation
    }


def test_every_registered_topic_has_its_producers_and_consumers() -> None:
    assert set(ACCESS) == {spec.name for spec in TOPICS}
    for spec in TOPICS:
        access = ACCESS[spec.name]
        assert set(access.producers) | set(access.consumers) <= set(SERVICES)
        # A topic a Yiwang service consumes has a dead-letter topic, and the other way round.
        assert spec.consumed == bool(access.consumers), spec.name


def test_a_service_reads_what_it_consumes_and_writes_what_it_produces_and_its_dead_letters() -> (
    None
):
    for service in SERVICES:
        assert granted(service, Operation.READ) == set(consumes(service))
        dead = {dead_letter_topic(t) for t in consumes(service)}
        assert granted(service, Operation.WRITE) == set(produces(service)) | dead
        assert granted(service, Operation.CREATE) == set(topics_of(service))
        assert not {a for a in service_acls(service) if a.operation == Operation.CREATE}
        groups = [a for a in service_acls(service) if a.resource_type == ResourceType.GROUP]
        assert [(g.name, g.pattern_type, g.operation) for g in groups] == [
            (f"yiwang-{service}", PatternType.PREFIXED, Operation.READ)
        ]
        topic_acls = [a for a in service_acls(service) if a.resource_type == ResourceType.TOPIC]
        assert all(a.pattern_type == PatternType.LITERAL for a in topic_acls)
        assert {a.principal for a in service_acls(service)} == {f"User:yiwang-{service}"}


def test_intake_neither_reads_department_topics_nor_writes_routing_decisions() -> None:
    assert not granted("intake", Operation.READ) & {department_topic(d) for d in Department}
    assert topics.CASE_ROUTED not in granted("intake", Operation.WRITE)
    assert granted("department-dispatch", Operation.WRITE) >= {
        department_topic(d) for d in Department
    }


def test_a_prefix_namespaces_every_topic_and_group() -> None:
    acls = service_acls("oversight", prefix="t1a2b3c4d.", create=True)
    assert all(a.name.startswith("t1a2b3c4d.") for a in acls)
    assert len(acls) == len(service_acls("oversight", create=True))


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown service"):
        service_acls("billing")


# --- the table against the services' code ------------------------------------------------


def topic_names(node: ast.expr) -> set[str]:
    """The registry names an expression denotes: a constant of yiwang.common.topics,
    department_topic(...) (any department's topic), or a tuple or list of those."""
    if isinstance(node, ast.Tuple | ast.List):
        return set().union(*(topic_names(element) for element in node.elts))
    if isinstance(node, ast.Name) and isinstance(getattr(topics, node.id, None), str):
        return {getattr(topics, node.id)}
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "department_topic":
        return {department_topic(d) for d in Department}
    return set()


def used_topics(service: str) -> tuple[set[str], set[str]]:
    """What the service's code emits (`.emit(..., topic=X)`) and subscribes to
    (`.subscribe(..., topic=X)`). The simulators run as yiwang-tools and are left out."""
    emitted: set[str] = set()
    subscribed: set[str] = set()
    for module in (ROOT / "services" / service / "src").rglob("*.py"):
        if module.name == "simulator.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            for keyword in node.keywords:
                if keyword.arg != "topic":
                    continue
                if node.func.attr == "emit":
                    emitted |= topic_names(keyword.value)
                elif node.func.attr == "subscribe":
                    subscribed |= topic_names(keyword.value)
    return emitted, subscribed


@pytest.mark.parametrize("service", SERVICES)
def test_what_a_service_emits_and_subscribes_to_is_exactly_what_is_granted(service: str) -> None:
    """Missing, the service is refused at run time; more, it holds rights it does not use.
    Either way: change ACCESS in yiwang.common.kafka_acls (and regenerate deploy/k8s)."""
    emitted, subscribed = used_topics(service)
    assert emitted, f"found no emit(..., topic=...) in {service}"
    assert emitted == set(produces(service))
    assert subscribed == set(consumes(service))


def test_the_dead_letter_desk_reads_dead_letters_and_writes_their_origins_and_its_log() -> None:
    from yiwang.common.dead_letter_replay import REPLAY_LOG
    from yiwang.common.kafka_acls import dead_letter_desk_acls

    acls = dead_letter_desk_acls(prefix="lz.", create=True)
    by_operation = {
        op: {a.name for a in acls if a.operation == op} for op in ("Read", "Write", "Create")
    }
    assert "lz.case.routed.v1.dlq" in by_operation["Read"]
    assert "lz.case.routed.v1" not in by_operation["Read"]
    assert "lz.case.routed.v1" in by_operation["Write"]
    assert "lz.intake.rejections.v1" not in by_operation["Write"]  # nobody consumes it
    assert by_operation["Create"] == {f"lz.{REPLAY_LOG}"}
    assert {a.principal for a in acls} == {"User:yiwang-dead-letters"}
