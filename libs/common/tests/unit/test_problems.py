"""Problem details (RFC 9457): the one error body of every service's own API."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field
from yiwang.common.input_guard import InputGuard
from yiwang.common.problems import (
    PROBLEM_JSON,
    Problem,
    Refusal,
    field_problem,
    install_problem_details,
)


class CaseUnknown(LookupError):
    pass


class Refused(ValueError):
    field = "score"
    status = 409
    code = "already_evaluated"


class Body(BaseModel):
    score: int = Field(ge=1, le=5)


def make_app() -> FastAPI:
    app = FastAPI()
    router = APIRouter()

    @router.post("/cases/{case_id}/evaluations")
    async def evaluate(
        case_id: str, body: Body, limit: Annotated[int, Query(le=10)] = 1
    ) -> dict[str, str]:
        if case_id == "unknown":
            raise CaseUnknown(f"no case '{case_id}'")
        if case_id == "twice":
            raise Refused("the case was evaluated before")
        if case_id == "http":
            raise HTTPException(403, "not yours")
        if case_id == "problem":
            raise field_problem(401, "authorization", "a bearer token is required")
        if case_id == "crash":
            raise RuntimeError("secret internals")
        return {"ok": "yes"}

    app.include_router(router)
    install_problem_details(app, refusals={CaseUnknown: Refusal(404, "case_id")})
    app.add_middleware(InputGuard, max_bytes=100)
    return app


async def post(path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, **kwargs)  # type: ignore[arg-type]


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["errors"], list)
    return dict(body)


async def test_validation_errors_name_each_field() -> None:
    body = assert_problem(await post("/cases/c1/evaluations?limit=99", json={"score": 9}), 422)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"score", "limit"}
    assert body["instance"] == "/cases/c1/evaluations"


async def test_a_mapped_domain_exception_names_its_field() -> None:
    body = assert_problem(await post("/cases/unknown/evaluations", json={"score": 3}), 404)
    assert body["errors"] == [{"field": "case_id", "reason": "no case 'unknown'"}]
    assert body["type"] == "about:blank"


async def test_an_exception_refines_its_refusal_with_its_own_attributes() -> None:
    transport = httpx.ASGITransport(app=_app_with_refused())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/cases/twice/evaluations", json={"score": 3})
    body = assert_problem(response, 409)
    assert body["code"] == "already_evaluated"
    assert body["type"] == "urn:yiwang:problem:already_evaluated"
    assert body["errors"] == [{"field": "score", "reason": "the case was evaluated before"}]


def _app_with_refused() -> FastAPI:
    app = make_app()
    install_problem_details(
        app, refusals={CaseUnknown: Refusal(404, "case_id"), Refused: Refusal(422)}
    )
    return app


async def test_http_exceptions_and_problems_share_the_shape() -> None:
    assert (
        assert_problem(await post("/cases/http/evaluations", json={"score": 3}), 403)["detail"]
        == "not yours"
    )
    body = assert_problem(await post("/cases/problem/evaluations", json={"score": 3}), 401)
    assert body["errors"] == [{"field": "authorization", "reason": "a bearer token is required"}]


async def test_an_unexpected_error_is_a_problem_without_internals() -> None:
    body = assert_problem(await post("/cases/crash/evaluations", json={"score": 3}), 500)
    assert "secret" not in str(body)


async def test_an_unknown_route_and_a_wrong_method_are_problems() -> None:
    assert_problem(await post("/nowhere", json={}), 404)


async def test_a_body_over_the_limit_is_refused_with_413() -> None:
    body = assert_problem(
        await post("/cases/c1/evaluations", content=b'{"score": 1, "pad": "' + b"x" * 200 + b'"}'),
        413,
    )
    assert body["errors"][0]["field"] == "(body)"  # type: ignore[index]


def test_problem_is_an_exception_with_errors() -> None:
    problem = Problem(400, "bad", code="x")
    assert problem.status == 400
    assert problem.errors == ()
