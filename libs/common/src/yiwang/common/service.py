"""Running a service: one definition per service, the same lifecycle for all five.

Start-up checks the database and broker first, so that a missing dependency is one
line that says what to do, not a stack trace; then the HTTP server starts, and its
lifespan opens the pool, the producer, the subscribers and the supervised background
jobs (the outbox relay, the lag monitor and the service's own).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from yiwang.common.asyncapi import contract_router
from yiwang.common.clock import clock_for_speed
from yiwang.common.http import MetricsMiddleware, health_router
from yiwang.common.http_tracing import TracingMiddleware
from yiwang.common.input_guard import InputGuard
from yiwang.common.jobs import Job, JobSupervisor
from yiwang.common.kafka_acls import SERVICES, topics_of
from yiwang.common.kafka_security import KafkaSecurity, KafkaSecurityError
from yiwang.common.lag import ConsumerLagMonitor
from yiwang.common.logs import configure_logging, get_logger
from yiwang.common.postgres import DatabaseUnavailable
from yiwang.common.postgres.migrations import apply_migrations
from yiwang.common.postgres.outbox import OutboxRelay
from yiwang.common.postgres.pool import connect
from yiwang.common.problems import install_problem_details
from yiwang.common.retention import Pruner, inbox_rule
from yiwang.common.runtime import Runtime, ServiceDefinition, service_migrations
from yiwang.common.settings import CommonSettings, SecretRefused
from yiwang.common.telemetry import configure_tracing
from yiwang.common.topic_admin import TopicsNotCreated, create_topics
from yiwang.common.working_days import (
    CalendarFileInvalid,
    calendar_from,
    install_calendar,
    local_date,
)

log = get_logger(__name__)


# SIGTERM to exit, at most: HTTP requests in flight, then the lifespan's steps (below, and
# Runtime.close), within the 10 s a service is given, also with the broker or the
# database away (docs/operations.md, "Outages").
HTTP_DRAIN_SECONDS = 2
STOP_JOBS_SECONDS = 1.5
STOP_CONSUMERS_SECONDS = 2.5
CLOSE_SECONDS = 1.5


async def bounded(step: str, stopping: Awaitable[object], seconds: float) -> None:
    """Await one shutdown step for at most `seconds`; past that, or if it fails, log it and
    go on: the process is ending, and what did not finish is redone by whoever comes next
    (records not committed come again, outbox rows not yet deleted are sent again)."""
    try:
        await asyncio.wait_for(stopping, seconds)
    except TimeoutError:
        log.warning("shutdown step abandoned after its time", step=step, seconds=seconds)
    except Exception as exc:
        log.warning("shutdown step failed", step=step, error=f"{type(exc).__name__}: {exc}")


class StartupError(RuntimeError):
    """A dependency is missing; the message is one line that says what to do."""


def load_calendar(settings: CommonSettings) -> None:
    """Install the working-day calendar: refuse to start on a bad calendar file."""
    clock = clock_for_speed(settings.clock_speed, epoch=settings.clock_epoch)
    try:
        install_calendar(calendar_from(settings.calendar_paths(), today=local_date(clock.now())))
    except CalendarFileInvalid as exc:
        raise StartupError(str(exc)) from None


def check_identity_provider(settings: CommonSettings) -> None:
    if not settings.oidc_issuer and not settings.development:
        raise StartupError(
            "YIWANG_OIDC_ISSUER is not set: people sign in at the county's OpenID Connect "
            "provider; set its issuer URL (make run and the tests use the local Keycloak)"
        )


async def prepare(definition: ServiceDefinition, settings: CommonSettings) -> None:
    """Migrate the schema and make sure the service's topics exist (those it produces and
    consumes, and its dead-letter topics: what its Kafka user may create); raise
    StartupError if we cannot."""
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
        security = KafkaSecurity.from_settings(settings)
        try:
            await asyncio.wait_for(
                create_topics(
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                    replication_factor=settings.kafka_replication_factor,
                    prefix=settings.topic_prefix,
                    security=security,
                    only=topics_of(definition.name) if definition.name in SERVICES else None,
                ),
                timeout=30,
            )
        except TopicsNotCreated as exc:
            raise StartupError(
                f"{exc}; give Kafka user {security.username or '(none)'} Create on them, create "
                "them beforehand ('make topics'), or set YIWANG_CREATE_TOPICS=false"
            ) from None
        except Exception as exc:
            raise StartupError(
                f"cannot reach Kafka at {settings.kafka_bootstrap_servers} with "
                f"{security.describe()} ({type(exc).__name__}: {exc}); start it with "
                "'make infra', or check KAFKA_BOOTSTRAP_SERVERS and the KAFKA_SASL_* settings"
            ) from None


class _TopicsArePrepared(logging.Filter):
    """FastStream warns, once per subscriber, that it will not create topics: prepare()
    has made them (or the cluster's operator has), so that warning says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Auto create topics is disabled" not in record.getMessage()


def create_app(definition: ServiceDefinition, settings: CommonSettings) -> FastAPI:
    runtime = Runtime(definition, settings)
    if runtime.kafka_security.protocol == "PLAINTEXT" and not settings.development:
        log.warning(
            "Kafka without authentication or TLS (KAFKA_SECURITY_PROTOCOL=PLAINTEXT): whoever "
            "reaches the brokers can read and write every topic; use SASL_SSL"
        )
    wiring = definition.wire(runtime)
    broker_log = logging.getLogger("yiwang.broker")
    broker_log.addFilter(_TopicsArePrepared())
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"yiwang-{definition.name}",
        security=runtime.kafka_security.faststream(),
        # Topics are created by prepare() (or the cluster's operator), never by a
        # subscriber starting: a consumer-only user may not create topics.
        allow_auto_create_topics=False,
        enable_idempotence=True,
        acks="all",
        # FastStream's per-record "Received/Processed" lines go through our structured
        # logging, at DEBUG: metrics count records, logs are for what needs a reader.
        logger=broker_log,
        log_level=logging.DEBUG,
    )
    broker.include_routers(*wiring.kafka_routers)

    supervisor = JobSupervisor(service=definition.name, jobs=[])

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
            security=runtime.kafka_security,
        )
        pruner = Pruner(
            pool=runtime.pool,
            service=definition.name,
            rules=[
                inbox_rule(definition.name, grace_days=settings.retention_grace_days),
                *wiring.retained,
            ],
            clock=runtime.clock,
            batch=settings.retention_batch,
        )
        supervisor.jobs = [
            Job("outbox-relay", relay.run),
            relay.gauges(),
            Job("consumer-lag", lag.run),
            pruner.job(every_seconds=settings.retention_every_seconds),
            *wiring.jobs,
        ]
        supervisor.start()
        log.info(
            "service started",
            port=settings.http_port or definition.port,
            kafka=runtime.kafka_security.describe(),
        )
        try:
            yield
        finally:
            # Each step has its time: with the broker or the database away, a consumer
            # leaving its group, the producer flushing or the pool closing can wait for
            # ever, and the orchestrator's SIGKILL would come before anything was logged.
            await bounded("background jobs", supervisor.stop(), STOP_JOBS_SECONDS)
            await bounded("Kafka consumers", broker.stop(), STOP_CONSUMERS_SECONDS)
            await runtime.close(within=CLOSE_SECONDS)
            log.info("service stopped")

    app = FastAPI(
        title=definition.title or f"Yiwang {definition.name}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.jobs = supervisor

    async def broker_ready() -> bool:
        return await runtime.producer.ping()

    app.include_router(
        health_router(
            checks={"database": runtime.database_ready, "kafka": broker_ready},
            stopped_jobs=supervisor.stopped,
        )
    )
    app.include_router(contract_router(service=definition.name))
    for router in wiring.http_routers:
        app.include_router(router)
    install_problem_details(app, refusals=wiring.refusals, alternative=wiring.problem_alternative)
    if wiring.configure_app is not None:
        wiring.configure_app(app)
    app.add_middleware(InputGuard, max_bytes=settings.max_body_bytes, exempt=wiring.raw_paths)
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
        load_calendar(settings)
        check_identity_provider(settings)
        app = create_app(definition, settings)  # wiring refuses development secrets
        check_port_free(settings.http_host, port)
        asyncio.run(prepare(definition, settings))
    except (StartupError, SecretRefused, KafkaSecurityError) as exc:
        print(f"yiwang-{definition.name}: {exc}", file=sys.stderr)
        sys.exit(2)
    # Handling an event or a request makes many short-lived objects (models, envelopes,
    # rows); with the interpreter's default thresholds the cycle collector runs every few
    # of them and its full passes walk every long-lived object (modules, schemas, the grid
    # index): ~10% of intake's Kafka throughput, and pauses in the HTTP latency tail. What
    # is loaded by now stays for the life of the process: frozen, it is never walked. So
    # what an event makes must not sit in a reference cycle, or it waits for a rare pass:
    # units of work do not (tests/integration/test_unit_of_work_lifetime.py).
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=HTTP_DRAIN_SECONDS,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(1)
