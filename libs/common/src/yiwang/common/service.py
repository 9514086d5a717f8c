"""Running a service: one definition per service, the same lifecycle for all five.

Start-up checks the database and broker first, so that a missing dependency is one
line that says what to do, not a stack trace; then the HTTP server starts, and its
lifespan opens the pool, the producer, the subscribers and the outbox relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import uvicorn
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker, KafkaRouter
from yiwang.common.case_metrics import counting_batched_transitions, counting_case_transitions
from yiwang.common.clock import Clock, clock_for_speed
from yiwang.common.events import Event
from yiwang.common.http import MetricsMiddleware, health_router
from yiwang.common.http_tracing import TracingMiddleware
from yiwang.common.kafka import (
    BatchEventHandler,
    DeadLetterOffice,
    EventHandler,
    EventProducer,
    InvalidPayloadHandler,
    subscribe,
)
from yiwang.common.lag import ConsumerLagMonitor, Subscription
from yiwang.common.logs import configure_logging, get_logger
from yiwang.common.postgres import DatabaseUnavailable, PostgresUnitOfWork, open_pool
from yiwang.common.postgres.migrations import (
    apply_migrations,
    common_migrations,
    load_migrations,
)
from yiwang.common.postgres.outbox import OutboxRelay
from yiwang.common.postgres.pool import connect
from yiwang.common.settings import CommonSettings
from yiwang.common.telemetry import configure_tracing
from yiwang.common.topics import create_topics

log = get_logger(__name__)


class StartupError(RuntimeError):
    """A dependency is missing; the message is one line that says what to do."""


@dataclass
class Wiring:
    """What a service plugs into the runtime."""

    kafka_routers: list[KafkaRouter] = field(default_factory=list)
    http_routers: list[APIRouter] = field(default_factory=list)
    # Long-running coroutines (timers, schedulers), started after the broker.
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Exception handlers and middleware a service needs on its HTTP app.
    configure_app: Callable[[FastAPI], None] | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    name: str  # e.g. "grid-routing": client ids, metrics labels, CloudEvents source
    schema: str  # its own Postgres schema
    port: int
    wire: Callable[[Runtime], Wiring]
    migrations: Traversable | None = None
    settings_factory: Callable[[], CommonSettings] = CommonSettings
    title: str = ""
    description: str = ""


class Runtime:
    """The open resources of a running service, handed to its wiring."""

    def __init__(self, definition: ServiceDefinition, settings: CommonSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.clock: Clock = clock_for_speed(settings.clock_speed, epoch=settings.clock_epoch)
        self.producer = EventProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"yiwang-{definition.name}",
        )
        self.dead_letters = DeadLetterOffice(producer=self.producer, service=definition.name)
        self.subscriptions: list[Subscription] = []  # for the consumer lag monitor
        self._pool: asyncpg.Pool | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self._pool

    def unit_of_work(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(
            self.pool,
            source=f"/yiwang/{self.name}",
            clock=self.clock,
            topic_prefix=self.settings.topic_prefix,
        )

    def subscribe(
        self,
        router: KafkaRouter,
        *,
        topic: str,
        handlers: Mapping[type[Event], EventHandler],
        group_id: str | None = None,
        on_invalid: InvalidPayloadHandler | None = None,
        batched: Mapping[type[Event], BatchEventHandler] | None = None,
    ) -> None:
        prefix = self.settings.topic_prefix
        group = prefix + (group_id or f"yiwang-{self.name}")
        self.subscriptions.append(Subscription(group=group, topic=prefix + topic))
        subscribe(
            router,
            service=self.name,
            topic=prefix + topic,
            group_id=group,
            handlers=counting_case_transitions(handlers, service=self.name),
            dead_letters=self.dead_letters,
            on_invalid=on_invalid,
            batched=counting_batched_transitions(batched or {}, service=self.name),
        )

    async def open(self) -> None:
        self._pool = await open_pool(
            dsn=self.settings.database_url,
            schema=self.definition.schema,
            application_name=f"yiwang-{self.name}",
            max_size=self.settings.db_pool_max_size,
        )
        await self.producer.start()

    async def close(self) -> None:
        await self.producer.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def database_ready(self) -> bool:
        return bool(await self.pool.fetchval("SELECT true"))


def service_migrations(definition: ServiceDefinition) -> list[Any]:
    own = (
        load_migrations(source=definition.name, directory=definition.migrations)
        if definition.migrations is not None
        else []
    )
    return [*common_migrations(), *own]


async def prepare(definition: ServiceDefinition, settings: CommonSettings) -> None:
    """Migrate the schema and make sure the topics exist; raise StartupError if we cannot."""
    try:
        conn = await connect(settings.database_url)
    except DatabaseUnavailable as exc:
        raise StartupError(str(exc)) from None
    try:
        applied = await apply_migrations(
            conn, schema=definition.schema, migrations=service_migrations(definition)
        )
    finally:
        await conn.close()
    if applied:
        log.info("migrations applied", schema=definition.schema, migrations=applied)
    if settings.create_topics:
        try:
            await asyncio.wait_for(
                create_topics(
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                    replication_factor=settings.kafka_replication_factor,
                    prefix=settings.topic_prefix,
                ),
                timeout=30,
            )
        except Exception as exc:
            raise StartupError(
                f"cannot reach Kafka at {settings.kafka_bootstrap_servers} ({type(exc).__name__}: "
                f"{exc}); start it with 'make infra' or set KAFKA_BOOTSTRAP_SERVERS"
            ) from None


def create_app(definition: ServiceDefinition, settings: CommonSettings) -> FastAPI:
    runtime = Runtime(definition, settings)
    wiring = definition.wire(runtime)
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"yiwang-{definition.name}",
        enable_idempotence=True,
        acks="all",
        # FastStream's per-record "Received/Processed" lines go through our structured
        # logging, at DEBUG: metrics count records, logs are for what needs a reader.
        logger=logging.getLogger("yiwang.broker"),
        log_level=logging.DEBUG,
    )
    broker.include_routers(*wiring.kafka_routers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.open()
        relay = OutboxRelay(
            pool=runtime.pool,
            producer=runtime.producer,
            service=definition.name,
            schema=definition.schema,
            poll_seconds=settings.outbox_poll_seconds,
        )
        await broker.start()
        lag = ConsumerLagMonitor(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            service=definition.name,
            subscriptions=runtime.subscriptions,
        )
        tasks = [
            asyncio.create_task(relay.run(), name="outbox-relay"),
            asyncio.create_task(lag.run(), name="consumer-lag"),
        ]
        tasks += [
            asyncio.create_task(job(), name=getattr(job, "__name__", "job"))
            for job in wiring.background
        ]
        log.info("service started", port=settings.http_port or definition.port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await broker.stop()
            await runtime.close()
            log.info("service stopped")

    app = FastAPI(
        title=definition.title or f"Yiwang {definition.name}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    async def broker_ready() -> bool:
        return await runtime.producer.ping()

    app.include_router(
        health_router(checks={"database": runtime.database_ready, "kafka": broker_ready})
    )
    for router in wiring.http_routers:
        app.include_router(router)
    if wiring.configure_app is not None:
        wiring.configure_app(app)
    app.add_middleware(MetricsMiddleware, service=definition.name)
    app.add_middleware(TracingMiddleware, service=definition.name)
    return app


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} is already in use; stop what holds it (e.g. 'make stop') "
                    "or set YIWANG_HTTP_PORT to another port"
                ) from None
            raise


def run_service(definition: ServiceDefinition) -> None:
    """The console entry point of every service."""
    settings = definition.settings_factory()
    configure_logging(service=definition.name, level=settings.log_level, fmt=settings.log_format)
    configure_tracing(service=definition.name)
    port = settings.http_port or definition.port
    try:
        check_port_free(settings.http_host, port)
        asyncio.run(prepare(definition, settings))
    except StartupError as exc:
        print(f"yiwang-{definition.name}: {exc}", file=sys.stderr)
        sys.exit(2)
    app = create_app(definition, settings)
    # Handling an event or a request makes many short-lived objects (models, envelopes,
    # rows); with the interpreter's default thresholds the cycle collector runs every few
    # of them and its full passes walk every long-lived object (modules, schemas, the grid
    # index): ~10% of intake's Kafka throughput, and pauses in the HTTP latency tail. What
    # is loaded by now stays for the life of the process: frozen, it is never walked.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    config = uvicorn.Config(
        app, host=settings.http_host, port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(1)
