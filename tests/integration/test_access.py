"""Every route checks who calls, as docs/security.md's table says: the five services run as
processes, people sign in at the real identity provider (the local Keycloak), machines use
the API keys the services issue. For each operation of each service's OpenAPI document:
no credential is a 401, a person without an allowed role is a 403, and a person (or
machine) with an allowed role gets past the check. Bindings (the right township,
department or committee) are walked with real cases in each service's own tests."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from service_fixtures import (
    ALL_SERVICES,
    issue_dispatch_key,
    issue_intake_key,
    services_under_test,
)
from support import ServiceProcess, bearer, new_topic_prefix

pytestmark = pytest.mark.integration

services = services_under_test(ALL_SERVICES, prefix=new_topic_prefix())

# A person holding each role in the demo realm (infra/devstack/keycloak_realm.py).
PEOPLE = {
    "hub-operator": "hub_operator",
    "township-official": "township_140399001",
    "department-staff": "staff_urban_management",
    "mediator": "mediator_140399001",
    "hotline-operator": "hotline_operator",
    "auditor": "auditor",
    "administrator": "administrator",
    "grid-worker": "gw-140399001001001-1",  # the tiny county's first grid worker
}
MACHINES = ("platform", "department-system", "township-system")
METHODS = ("get", "post", "put", "patch", "delete")


def operations(service: ServiceProcess) -> list[tuple[str, str, dict[str, Any]]]:
    document = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method in METHODS
        if (operation := item.get(method)) is not None
    ]


def concrete(path: str) -> str:
    """Placeholders for path parameters: `{case_id}` -> `x`, `{fmt}` -> `json`."""
    return re.sub(r"\{fmt\}", "json", re.sub(r"\{(?!fmt\})[^}]+\}", "x", path))


def call(service: ServiceProcess, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 15}
    if method in ("post", "put", "patch"):
        kwargs["json"] = {}
    return httpx.request(method.upper(), service.url + concrete(path), **kwargs).status_code


def test_every_route_declares_who_may_call_it(services: dict[str, ServiceProcess]) -> None:
    undeclared = [
        f"{name} {method.upper()} {path}"
        for name, service in services.items()
        for method, path, operation in operations(service)
        if "x-yiwang-access" not in operation
    ]
    assert undeclared == []


def test_no_credential_is_401_a_wrong_role_403_and_a_right_role_passes(
    services: dict[str, ServiceProcess],
) -> None:
    keys = {
        "platform": issue_intake_key(services["intake"], platform="access-walk"),
        "department-system": issue_dispatch_key(
            services["department-dispatch"], "urban-management"
        ),
        "township-system": issue_dispatch_key(
            services["department-dispatch"], "township:140399001"
        ),
    }
    wrong: list[str] = []
    walked = 0
    for name, service in services.items():
        for method, path, operation in operations(service):
            access = operation.get("x-yiwang-access", {})
            if access.get("public"):
                continue
            walked += 1
            roles = set(access.get("roles", ()))
            where = f"{name} {method.upper()} {path}"
            status = call(service, method, path, {})
            if status != 401:
                wrong.append(f"{where}: no credential gave {status}, not 401")
            outsider = next((u for r, u in PEOPLE.items() if r not in roles), None)
            if outsider is not None:
                status = call(service, method, path, bearer(outsider))
                if status != 403:
                    wrong.append(f"{where}: {outsider} (no allowed role) gave {status}, not 403")
            allowed = [PEOPLE[r] for r in roles if r in PEOPLE]
            allowed_keys = [keys[r] for r in roles if r in MACHINES]
            headers = (
                bearer(allowed[0])
                if allowed
                else {"Authorization": f"Bearer {allowed_keys[0]}"}
                if allowed_keys
                else None
            )
            if headers is None:
                wrong.append(f"{where}: no test identity holds one of {sorted(roles)}")
                continue
            status = call(service, method, path, headers)
            if status == 401 or (status == 403 and not access.get("bound")):
                wrong.append(f"{where}: an allowed caller was refused with {status}")
    assert walked >= 30
    assert wrong == []
