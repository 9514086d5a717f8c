"""Wiring for intake: the one place that puts the service together."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.service import Runtime, ServiceDefinition, Wiring, run_service
from yiwang.intake.config import IntakeSettings
from yiwang.intake.dependencies import IntakeDependencies
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.domain.submission import SubmissionInvalid
from yiwang.intake.entrypoints.formats import errors as open311_errors
from yiwang.intake.entrypoints.guards import (
    BodySizeLimit,
    Unauthorized,
    field_errors_response,
    submission_invalid_response,
)
from yiwang.intake.entrypoints.http import native_router
from yiwang.intake.entrypoints.kafka import kafka_router
from yiwang.intake.entrypoints.open311 import Open311Error, open311_format, open311_router


def configure(app: FastAPI, settings: IntakeSettings) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(Open311Error)
    async def open311_error(request: Request, exc: Open311Error) -> Response:
        return open311_errors(open311_format(request.url.path), exc.status, exc.description)

    @app.exception_handler(SubmissionInvalid)
    async def invalid(_: Request, exc: SubmissionInvalid) -> JSONResponse:
        return submission_invalid_response(exc)

    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return field_errors_response([("api_key", exc.reason)], exc.status)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        pairs = [
            (".".join(str(p) for p in e["loc"] if p not in ("query", "path", "header")), e["msg"])
            for e in exc.errors()
        ]
        if request.url.path.startswith("/open311/"):
            field, reason = pairs[0]
            return open311_errors(open311_format(request.url.path), 400, f"{field}: {reason}")
        return field_errors_response(pairs, 400)


def wire(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    deps = IntakeDependencies(
        runtime=runtime,
        settings=settings,
        policy=IntakePolicy.of(
            county_code=settings.county_code,
            county_name=settings.county_name,
            bbox=settings.county_bbox,
            radius_m=settings.duplicate_radius_m,
            window_hours=settings.duplicate_window_hours,
        ),
        vault=PersonalDataVault(settings.pii_key, setting="INTAKE_PII_KEY"),
    )
    return Wiring(
        kafka_routers=[kafka_router(runtime, deps)],
        http_routers=[native_router(deps), open311_router(deps)],
        configure_app=lambda app: configure(app, settings),
    )


DEFINITION = ServiceDefinition(
    name="intake",
    schema="intake",
    port=8001,
    wire=wire,
    migrations=files("yiwang.intake") / "migrations",
    settings_factory=IntakeSettings,
    title="Yiwang intake",
    description="Every channel in: the native API, Open311 GeoReport v2 and Kafka ingestion.",
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
