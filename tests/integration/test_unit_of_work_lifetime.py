"""Every service's unit of work is freed when its use ends, by reference counting alone.

The services run the cycle collector seldom (yiwang.common.service), so a unit caught in a
reference cycle (its repositories holding its own `write`) kept itself, its connection
proxy and every row and event it held until a rare pass: in a flood of 10,000 cases,
intake and grid-routing grew by tens of MB."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from yiwang.common.clock import SystemClock
from yiwang.common.postgres import PostgresUnitOfWork, open_pool
from yiwang.department_dispatch.adapters.unit_of_work import PostgresDispatchUnitOfWork
from yiwang.grid_routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from yiwang.intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from yiwang.mediation.adapters.unit_of_work import PostgresMediationUnitOfWork
from yiwang.oversight.adapters.unit_of_work import PostgresOversightUnitOfWork

pytestmark = pytest.mark.integration

KINDS: tuple[type[PostgresUnitOfWork], ...] = (
    PostgresUnitOfWork,
    PostgresIntakeUnitOfWork,
    PostgresRoutingUnitOfWork,
    PostgresDispatchUnitOfWork,
    PostgresMediationUnitOfWork,
    PostgresOversightUnitOfWork,
)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def use(uow: PostgresUnitOfWork, *, handler_fails: bool) -> None:
    async with uow:
        uow.defer_writes()
        write = uow.write  # what repositories are handed
        if handler_fails:
            raise RuntimeError("the handler failed")
    del write


@pytest.mark.parametrize("handler_fails", [False, True], ids=["committed", "rolled-back"])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
async def test_a_unit_of_work_is_freed_by_reference_counting_when_its_use_ends(
    kind: type[PostgresUnitOfWork],
    handler_fails: bool,
    database_url: str,
    schema: str,
    no_cycle_collector: None,
) -> None:
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    try:
        uow = kind(pool, source="/yiwang/test", clock=SystemClock())
        if handler_fails:
            with pytest.raises(RuntimeError, match="the handler failed"):
                await use(uow, handler_fails=True)
        else:
            await use(uow, handler_fails=False)
        gone = weakref.ref(uow)
        del uow
        assert gone() is None, f"{kind.__name__} outlived its use: {gc.get_referrers(gone())}"
    finally:
        await pool.close()


async def test_write_outside_a_unit_of_work_is_refused(database_url: str, schema: str) -> None:
    """Before, between and after uses; and a `write` a repository kept from an earlier
    use refuses rather than writing on a connection given back to the pool."""
    pool = await open_pool(dsn=database_url, schema=schema, application_name="test")
    try:
        uow = PostgresUnitOfWork(pool, source="/yiwang/test", clock=SystemClock())
        with pytest.raises(RuntimeError, match="outside 'async with'"):
            await uow.write("DELETE FROM nothing")
        async with uow:
            kept = uow.write
        with pytest.raises(RuntimeError, match="outside 'async with'"):
            uow.defer_writes()
        with pytest.raises(RuntimeError, match="outside 'async with'"):
            await kept("DELETE FROM nothing")
        async with uow:  # entered again: its own writes go through
            await uow.write("CREATE TEMP TABLE t (n int) ON COMMIT DROP")
            await uow.write("INSERT INTO t VALUES ($1)", 1)
            assert await uow.connection.fetchval("SELECT count(*) FROM t") == 1
        with pytest.raises(RuntimeError, match="outside 'async with'"):
            await kept("DELETE FROM nothing")
    finally:
        await pool.close()
