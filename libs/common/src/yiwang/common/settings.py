"""Settings from the environment (pydantic-settings), with local defaults that just work."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql://yiwang@127.0.0.1:55432/yiwang"
LOCAL_KAFKA = "localhost:9092"


class CommonSettings(BaseSettings):
    """What every service reads. Services subclass it with their own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default=LOCAL_KAFKA, alias="KAFKA_BOOTSTRAP_SERVERS")
    # A namespace for every topic and consumer group: several counties (or test runs) can
    # share one cluster. "lz." makes "lz.case.routed.v1".
    topic_prefix: str = Field(default="", alias="YIWANG_TOPIC_PREFIX", pattern=r"^([a-z0-9-]+\.)?$")
    kafka_replication_factor: int = Field(default=1, alias="KAFKA_REPLICATION_FACTOR", ge=1)
    database_url: str = Field(default=LOCAL_DATABASE_URL, alias="DATABASE_URL")
    db_pool_max_size: int = Field(default=10, alias="YIWANG_DB_POOL_MAX", ge=1)
    log_level: str = Field(default="INFO", alias="YIWANG_LOG_LEVEL")
    log_format: str = Field(default="json", alias="YIWANG_LOG_FORMAT", pattern="^(json|console)$")
    http_host: str = Field(default="127.0.0.1", alias="YIWANG_HTTP_HOST")
    http_port: int | None = Field(default=None, alias="YIWANG_HTTP_PORT", ge=1, le=65535)
    # Services create missing topics at start-up; on a managed cluster (Strimzi) turn it off.
    create_topics: bool = Field(default=True, alias="YIWANG_CREATE_TOPICS")
    # Demo time can run faster than real time so that deadlines fire within minutes.
    clock_speed: float = Field(default=1.0, alias="YIWANG_CLOCK_SPEED", gt=0)
    # The real moment demo time starts from; processes sharing it agree on the time.
    clock_epoch: datetime | None = Field(default=None, alias="YIWANG_CLOCK_EPOCH")
    outbox_poll_seconds: float = Field(default=1.0, alias="YIWANG_OUTBOX_POLL_SECONDS", gt=0)
    # Calendar files (holidays and make-up working days of a year, from the State Council's
    # notice), comma-separated files or directories of *.json; they override the tables of
    # the chinese-calendar package (see yiwang.common.working_days).
    calendar_files: str = Field(default="", alias="YIWANG_CALENDAR_FILES")

    def calendar_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.calendar_files.split(",") if p.strip()]
