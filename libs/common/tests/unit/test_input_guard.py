"""The input guard: what no route of any service should ever see."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from yiwang.common.input_guard import InputGuard, Refused, check_depth, check_query, check_text


def app() -> FastAPI:
    application = FastAPI()

    @application.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @application.get("/search")
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    application.add_middleware(InputGuard, max_bytes=4096)
    return application


async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url, **kwargs)  # type: ignore[arg-type]


def refused_field(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["errors"][0]["field"])


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"<r>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</r>",
    ],
)
async def test_bodies_nested_thousands_deep_are_refused(body: bytes) -> None:
    transport = httpx.ASGITransport(app=_big_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        )
    assert refused_field(response) == "(body)"
    assert "nested deeper" in response.json()["detail"]


def _big_app() -> FastAPI:
    application = app()
    application.user_middleware.clear()
    application.add_middleware(InputGuard, max_bytes=1 << 20)
    return application


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a\\u0000b"}',
        b'{"name": "a\x00b"}',
        b'{"name": "\\ud800"}',
        b'{"name": "x\\udc00"}',
        b'{"name": "\xff\xfe"}',
    ],
)
async def test_nul_lone_surrogates_and_bad_utf8_are_refused(body: bytes) -> None:
    response = await call(
        "POST", "/echo", content=body, headers={"content-type": "application/json"}
    )
    assert refused_field(response) == "(body)"


async def test_a_surrogate_pair_is_a_character_and_passes() -> None:
    response = await call("POST", "/echo", content=b'{"name": "\\ud83d\\ude00 \\u4e2d"}')
    assert response.status_code == 200, response.text


async def test_a_query_parameter_with_nul_names_the_parameter() -> None:
    assert refused_field(await call("GET", "/search?q=a%00b")) == "q"
    assert refused_field(await call("GET", "/search?q=%ED%A0%80")) == "q"  # CESU surrogate
    assert (await call("GET", "/search?q=%E4%B8%AD")).json() == {"q": "中"}


async def test_form_bodies_are_checked_like_query_strings() -> None:
    response = await call(
        "POST",
        "/echo",
        content=b"description=a%00b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert refused_field(response) == "description"


async def test_a_large_body_is_refused_with_413_declared_or_not() -> None:
    assert refused_field(await call("POST", "/echo", content=b"x" * 5000), 413) == "(body)"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"y" * 1000

    assert refused_field(await call("POST", "/echo", content=chunks()), 413) == "(body)"


async def test_an_ordinary_body_reaches_the_route_unchanged() -> None:
    body = b'{"title": "\xe5\x9e\x83\xe5\x9c\xbe", "n": [[1, 2], {"a": [3]}]}'
    response = await call("POST", "/echo", content=body)
    assert response.json() == {"bytes": len(body)}


def test_the_checks_directly() -> None:
    check_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')  # brackets in a string
    check_depth(b'<?xml version="1.0"?><a><b/><c>text</c></a>')
    with pytest.raises(Refused):
        check_depth(b"[" * 40)
    check_text("正常的文字".encode(), "(body)")
    check_query(b"a=1&b=%E4%B8%AD")
