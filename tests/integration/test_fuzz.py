"""schemathesis against every service's own OpenAPI document, with valid credentials (the
fuzzer's account at the real identity provider holds every person role), a bounded number
of examples per operation, valid and invalid data: no answer may be a 5xx."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from service_fixtures import ALL_SERVICES, services_under_test
from support import ServiceProcess, bearer, new_topic_prefix

pytestmark = pytest.mark.integration

EXAMPLES = 10  # per operation and mode: bounded, so the suite stays within its time
services = services_under_test(ALL_SERVICES, prefix=new_topic_prefix())


def fuzz(service: ServiceProcess, headers: dict[str, str]) -> tuple[list[str], list[int]]:
    """Every operation, positive and negative data: the calls that answered 5xx, and the
    status of every call (so a run that sent nothing cannot pass)."""
    document = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    errors: list[str] = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # No valid (or no invalid) data exists for some operations: nothing to send.
            with contextlib.suppress(Unsatisfiable):
                examples(operation, mode, service.url, headers, errors, statuses)()
    return errors, statuses


def examples(
    operation: Any,
    mode: GenerationMode,
    url: str,
    headers: dict[str, str],
    errors: list[str],
    statuses: list[int],
) -> Any:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=15)
        statuses.append(response.status_code)
        if response.status_code >= 500:
            errors.append(
                f"{operation.label} ({mode.value}) answered {response.status_code}: "
                f"{case.as_curl_command(headers=headers)[:300]} -> {response.text[:200]}"
            )

    return run


@pytest.mark.parametrize("name", sorted(ALL_SERVICES))
def test_no_operation_answers_a_server_error(
    name: str, services: dict[str, ServiceProcess]
) -> None:
    errors, statuses = fuzz(services[name], bearer("fuzzer"))
    assert errors == []
    # It got through: most answers are the handlers' own (2xx, 404, 409, 422), not 401/403.
    assert len(statuses) >= 20
    assert sum(1 for s in statuses if s not in (401, 403)) > len(statuses) / 2, statuses
