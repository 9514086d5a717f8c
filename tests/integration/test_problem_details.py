"""Every service's own HTTP API answers a bad request with the one problem-details shape
(RFC 9457, application/problem+json, `errors` naming the field and the reason); Open311
keeps the GeoReport error list. All five services run as processes, as `make run` starts
them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_fixtures import ALL_SERVICES, issue_intake_key, services_under_test
from support import ServiceProcess, bearer, new_topic_prefix

pytestmark = pytest.mark.integration

services = services_under_test(ALL_SERVICES, prefix=new_topic_prefix())


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert {"type", "title", "status", "errors"} <= set(body)
    assert body["status"] == status
    for error in body["errors"]:
        assert set(error) == {"field", "reason"}
        assert error["field"]
        assert error["reason"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def test_each_service_answers_a_bad_request_with_problem_details(
    services: dict[str, ServiceProcess],
) -> None:
    key = issue_intake_key(services["intake"], platform="problems")
    bad: list[tuple[str, str, str, dict[str, Any], int, str]] = [
        ("intake", "POST", "/v1/cases", {"json": {"channel": "portal"}, "headers": {"X-API-Key": key}}, 422, "category"),
        ("intake", "POST", "/v1/cases", {"json": {}}, 401, "authorization"),
        ("grid-routing", "GET", "/locate", {"params": {"lon": 999, "lat": 37.8}, "headers": bearer("auditor")}, 422, "lon"),
        ("department-dispatch", "POST", "/replies", {"json": {"case_id": "c1"}, "headers": bearer("staff_civil_affairs")}, 422, "work_order_id"),
        ("department-dispatch", "POST", "/replies", {"json": {"case_id": "c1"}}, 401, "authorization"),
        ("mediation", "POST", "/mediators", {"json": {"mediator_id": "m 1"}, "headers": bearer("administrator")}, 422, "name"),
        ("mediation", "POST", "/mediators", {"json": {"mediator_id": "m1"}, "headers": bearer("auditor")}, 403, "authorization"),
        ("mediation", "GET", "/mediations/med-unknown", {"headers": bearer("hub_operator")}, 404, "mediation_id"),
        ("oversight", "GET", "/kpis", {"params": {"from": "2026-02-02", "to": "2026-02-01"}, "headers": bearer("auditor")}, 422, "to"),
        ("oversight", "GET", "/kpis", {"params": {"from": "0001-01-01", "to": "2026-02-01"}, "headers": bearer("auditor")}, 422, "from"),
        ("oversight", "GET", "/cases/no-such-case", {"headers": bearer("auditor")}, 404, "case_id"),
    ]  # fmt: skip
    for service, method, path, kwargs, status, field in bad:
        response = httpx.request(method, services[service].url + path, timeout=10, **kwargs)
        body = problem(response, status)
        assert field in fields(body), (service, path, body)
        assert body["instance"] == path


def test_unknown_routes_are_problems_too(services: dict[str, ServiceProcess]) -> None:
    for service in services.values():
        problem(httpx.get(service.url + "/no-such-route", timeout=10), 404)


def test_open311_keeps_its_own_error_list(services: dict[str, ServiceProcess]) -> None:
    response = httpx.post(
        services["intake"].url + "/open311/v2/requests.json",
        data={"service_code": "sanitation"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()
    assert error["code"] == 401
    assert "api_key" in error["description"]


def test_healthz_is_green_while_every_job_runs(services: dict[str, ServiceProcess]) -> None:
    for service in services.values():
        response = httpx.get(service.url + "/healthz", timeout=10)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}
