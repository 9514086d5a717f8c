"""The runtime of a service: what it is (its definition), what it plugs in (its wiring),
and the open resources its wiring is handed (pool, producer, clock, subscriptions)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaRouter
from yiwang.common.auth import (
    ApiKeyVerifier,
    Authenticate,
    OidcConfig,
    TokenVerifier,
    authenticator,
)
from yiwang.common.case_metrics import counting_batched_transitions, counting_case_transitions
from yiwang.common.clock import Clock, clock_for_speed
from yiwang.common.dead_letters import DeadLetterOffice
from yiwang.common.events import Event
from yiwang.common.jobs import Job
from yiwang.common.kafka_security import KafkaSecurity
from yiwang.common.lag import Subscription
from yiwang.common.logs import get_logger
from yiwang.common.postgres import PostgresUnitOfWork, UnitOfWorkFactory, open_pool
from yiwang.common.postgres.migrations import common_migrations, load_migrations
from yiwang.common.problems import Alternative, Refusal
from yiwang.common.producer import EventProducer
from yiwang.common.retention import Retained
from yiwang.common.settings import CommonSettings
from yiwang.common.subscriber import (
    BatchEventHandler,
    EventHandler,
    InvalidPayloadHandler,
    subscribe,
)

U = TypeVar("U", bound=PostgresUnitOfWork)
log = get_logger(__name__)


@dataclass
class Wiring:
    """What a service plugs into the runtime."""

    kafka_routers: list[KafkaRouter] = field(default_factory=list)
    http_routers: list[APIRouter] = field(default_factory=list)
    # Background jobs (timers, sweeps, gauges), supervised, started after the broker.
    jobs: list[Job] = field(default_factory=list)
    # How the service's domain exceptions are answered over HTTP (problem details).
    refusals: Mapping[type[Exception], Refusal] = field(default_factory=dict)
    # Paths answered in another error format (Open311's own error list).
    problem_alternative: Alternative | None = None
    # Middleware a service needs on its HTTP app beyond the common ones.
    configure_app: Callable[[FastAPI], None] | None = None
    # Path prefixes whose bodies are not text (uploads): the input guard checks only size.
    raw_paths: tuple[str, ...] = ()
    # The service's own bookkeeping rows and how long they are kept (the inbox's rule is
    # added for every service: yiwang.common.retention).
    retained: tuple[Retained, ...] = ()


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
        # Every Kafka client of the service connects with this (KafkaSecurityError if the
        # settings are incomplete: the service does not start).
        self.kafka_security = KafkaSecurity.from_settings(settings)
        self.producer = EventProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"yiwang-{definition.name}",
            security=self.kafka_security,
        )
        self.dead_letters = DeadLetterOffice(producer=self.producer, service=definition.name)
        self.subscriptions: list[Subscription] = []  # for the consumer lag monitor
        self._pool: asyncpg.Pool | None = None
        self.tokens: TokenVerifier | None = (
            TokenVerifier(
                OidcConfig(
                    issuer=settings.oidc_issuer,
                    audience=settings.oidc_audience,
                    roles_claim=settings.oidc_roles_claim,
                    jwks_url=settings.oidc_jwks_url or None,
                )
            )
            if settings.oidc_issuer
            else None
        )

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self._pool

    def units_of_work(self, kind: type[U]) -> UnitOfWorkFactory[U]:
        """The service's unit-of-work factory: handlers get one fresh unit per call."""
        return UnitOfWorkFactory(
            kind,
            pool=lambda: self.pool,
            source=f"/yiwang/{self.name}",
            clock=self.clock,
            topic_prefix=self.settings.topic_prefix,
        )

    def authenticator(self, *, api_keys: ApiKeyVerifier | None = None) -> Authenticate:
        """The dependency that tells a route who calls: a person's bearer token (from
        YIWANG_OIDC_ISSUER), or one of this service's API keys."""
        return authenticator(tokens=self.tokens, api_keys=api_keys)

    def subscribe(
        self,
        router: KafkaRouter,
        *,
        topic: str | Sequence[str],
        handlers: Mapping[type[Event], EventHandler],
        group_id: str | None = None,
        on_invalid: InvalidPayloadHandler | None = None,
        batched: Mapping[type[Event], BatchEventHandler] | None = None,
        gathered: bool = False,
    ) -> None:
        prefix = self.settings.topic_prefix
        group = prefix + (group_id or f"yiwang-{self.name}")
        topics = [prefix + t for t in ((topic,) if isinstance(topic, str) else topic)]
        self.subscriptions.extend(Subscription(group=group, topic=t) for t in topics)
        subscribe(
            router,
            service=self.name,
            topic=topics,
            group_id=group,
            handlers=counting_case_transitions(handlers, service=self.name),
            dead_letters=self.dead_letters,
            on_invalid=on_invalid,
            batched=counting_batched_transitions(batched or {}, service=self.name),
            gathered=gathered,
        )

    async def open(self) -> None:
        self._pool = await open_pool(
            dsn=self.settings.database_url,
            schema=self.definition.schema,
            application_name=f"yiwang-{self.name}",
            max_size=self.settings.db_pool_max_size,
        )
        await self.producer.start()

    async def close(self, *, within: float | None = None) -> None:
        """Stop the producer and close the pool; with `within`, each in at most that many
        seconds (the broker or the database may be away): a producer that cannot flush is
        abandoned (its outbox rows stay and are sent again), a pool that cannot
        close gracefully is terminated."""
        try:
            await asyncio.wait_for(self.producer.stop(), within)
        except (TimeoutError, KafkaError) as exc:
            log.warning("producer not flushed; abandoned", error=f"{type(exc).__name__}: {exc}")
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), within)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("pool not closed gracefully; terminated", error=type(exc).__name__)
                pool.terminate()

    async def database_ready(self) -> bool:
        return bool(await self.pool.fetchval("SELECT true"))


def service_migrations(definition: ServiceDefinition) -> list[Any]:
    own = (
        load_migrations(source=definition.name, directory=definition.migrations)
        if definition.migrations is not None
        else []
    )
    return [*common_migrations(), *own]
