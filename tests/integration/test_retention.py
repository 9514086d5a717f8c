"""Retention on real PostgreSQL, with the clock moved forward: each service's bookkeeping
rows go once nothing can need them, in bounded batches, counted in a metric; rows still
needed stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from yiwang.common.clock import ManualClock
from yiwang.common.postgres import open_pool
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.retention import Pruner, Retained, inbox_retention_days, inbox_rule
from yiwang.common.runtime import ServiceDefinition, service_migrations
from yiwang.common.settings import CommonSettings
from yiwang.department_dispatch import app as dispatch_app
from yiwang.department_dispatch.adapters import retention as dispatch_retention
from yiwang.grid_routing import app as routing_app
from yiwang.intake import app as intake_app
from yiwang.intake.adapters import retention as intake_retention
from yiwang.mediation import app as mediation_app
from yiwang.mediation.adapters import retention as mediation_retention
from yiwang.oversight import app as oversight_app
from yiwang.oversight.adapters import retention as oversight_retention

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 1, tzinfo=UTC)
SETTINGS = CommonSettings()  # grace: 7 days
SERVICES: dict[str, tuple[ServiceDefinition, Any]] = {
    "intake": (intake_app.DEFINITION, intake_retention),
    "grid-routing": (routing_app.DEFINITION, None),
    "department-dispatch": (dispatch_app.DEFINITION, dispatch_retention),
    "mediation": (mediation_app.DEFINITION, mediation_retention),
    "oversight": (oversight_app.DEFINITION, oversight_retention),
}


async def migrated(database_url: str, schema: str, definition: ServiceDefinition) -> asyncpg.Pool:
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    async with pool.acquire() as conn:
        await apply_migrations(conn, schema=schema, migrations=service_migrations(definition))
    return pool


@pytest.fixture
async def pools(database_url: str, schema: str) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    opened = {}
    for number, (name, (definition, _)) in enumerate(SERVICES.items()):
        opened[name] = await migrated(database_url, f"{schema}_{number}", definition)
    yield opened
    for number, pool in enumerate(opened.values()):
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}_{number}" CASCADE')
        await pool.close()


def pruned(service: str, table: str) -> float:
    value = REGISTRY.get_sample_value(
        "yiwang_retention_pruned_rows_total", {"service": service, "table": table}
    )
    return value or 0.0


async def add_inbox(pool: asyncpg.Pool, *, count: int, at: datetime, tag: str) -> None:
    await pool.executemany(
        "INSERT INTO inbox (consumer, event_id, received_at) VALUES ('c', $1, $2)",
        [(f"{tag}-{n}", at) for n in range(count)],
    )


async def test_every_services_rules_run_on_its_own_tables(pools: dict[str, asyncpg.Pool]) -> None:
    """Each rule is valid SQL against the service's migrated schema (tables, columns and
    conditions exist), and prunes nothing that is new."""
    for name, (_, module) in SERVICES.items():
        rules = [inbox_rule(name, grace_days=7), *(module.retained(SETTINGS) if module else ())]
        pruner = Pruner(pool=pools[name], service=name, rules=rules, clock=ManualClock(START))
        assert await pruner.prune_once() == {rule.table: 0 for rule in rules}


async def test_inboxes_are_kept_as_long_as_the_topics_they_guard(
    pools: dict[str, asyncpg.Pool],
) -> None:
    # Oversight and intake consume case.lifecycle.v1 (400 days); grid-routing only 30-day topics.
    assert inbox_retention_days("oversight") == 400
    assert inbox_retention_days("intake") == 400
    assert inbox_retention_days("grid-routing") == 30
    for name in ("oversight", "grid-routing"):
        pool = pools[name]
        await add_inbox(pool, count=3, at=START, tag="old")
        clock = ManualClock(START)
        pruner = Pruner(
            pool=pool, service=name, rules=[inbox_rule(name, grace_days=7)], clock=clock
        )
        clock.advance(timedelta(days=100))
        kept_after_100_days = await pruner.prune_once()
        clock.advance(timedelta(days=400 - 100 + 8))
        after_408_days = await pruner.prune_once()
        if name == "oversight":
            assert kept_after_100_days == {"inbox": 0}
            assert after_408_days == {"inbox": 3}
        else:
            assert kept_after_100_days == {"inbox": 3}
            assert after_408_days == {"inbox": 0}
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_pruning_goes_in_bounded_batches_and_is_counted(
    pools: dict[str, asyncpg.Pool],
) -> None:
    pool = pools["grid-routing"]
    await add_inbox(pool, count=25, at=START, tag="old")
    await add_inbox(pool, count=4, at=START + timedelta(days=30), tag="new")
    before = pruned("grid-routing", "inbox")
    clock = ManualClock(START + timedelta(days=38))
    pruner = Pruner(
        pool=pool, service="grid-routing", rules=[inbox_rule("grid-routing", grace_days=7)],
        clock=clock, batch=10,
    )  # fmt: skip
    rounds = [await pruner.tick() for _ in range(3)]
    assert rounds == [True, True, False]  # 10, 10, then 5: done
    assert pruned("grid-routing", "inbox") - before == 25
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 4
    last_run = REGISTRY.get_sample_value(
        "yiwang_retention_last_run_timestamp_seconds", {"service": "grid-routing"}
    )
    assert last_run is not None


async def test_fired_timers_go_only_once_their_case_has_ended(
    pools: dict[str, asyncpg.Pool],
) -> None:
    pool = pools["oversight"]
    for case_id, state in (("ended", "closed"), ("open", "in_progress")):
        await pool.execute(
            "INSERT INTO cases (case_id, state, is_open, response_running, resolution_running)"
            " VALUES ($1, $2, $3, false, false)",
            case_id, state, state != "closed",
        )  # fmt: skip
    rows = [("ended", START), ("open", START), ("ended", None)]
    for n, (case_id, fired_at) in enumerate(rows):
        await pool.execute(
            "INSERT INTO timers (case_id, clock, stage, deadline, due_at, fired_at)"
            " VALUES ($1, 'resolution', $2, $3, $3, $4)",
            case_id, f"stage-{n}", START, fired_at,
        )  # fmt: skip
    rules = oversight_retention.retained(SETTINGS)
    clock = ManualClock(START + timedelta(days=8))
    pruner = Pruner(pool=pool, service="oversight", rules=rules, clock=clock)
    assert await pruner.prune_once() == {"timers": 1}
    left = await pool.fetch("SELECT case_id, fired_at IS NOT NULL AS fired FROM timers")
    assert sorted((r["case_id"], r["fired"]) for r in left) == [("ended", False), ("open", True)]


async def test_idempotency_keys_and_reply_rejections_follow_their_topics(
    pools: dict[str, asyncpg.Pool],
) -> None:
    (keys,) = intake_retention.retained(SETTINGS)
    (rejections,) = dispatch_retention.retained(SETTINGS)
    assert (keys.table, keys.days) == ("idempotency_keys", 37)
    assert (rejections.table, rejections.days) == ("reply_rejection", 37)
    pool = pools["department-dispatch"]
    await pool.execute(
        "INSERT INTO reply_rejection (at, channel, reason, detail, security)"
        " VALUES ($1, 'kafka', 'bad_signature', 'x', true)",
        START,
    )
    clock = ManualClock(START + timedelta(days=36))
    pruner = Pruner(pool=pool, service="department-dispatch", rules=[rejections], clock=clock)
    assert await pruner.prune_once() == {"reply_rejection": 0}
    clock.advance(timedelta(days=2))
    assert await pruner.prune_once() == {"reply_rejection": 1}


def test_a_rule_names_plain_identifiers_and_a_real_period() -> None:
    with pytest.raises(ValueError, match="identifier"):
        Retained("inbox; DROP TABLE cases", "received_at", 30)
    with pytest.raises(ValueError, match="at least a day"):
        Retained("inbox", "received_at", 0)
