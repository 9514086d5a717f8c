"""Who may read grid-routing's read side, and bad input answered as a 4xx naming the field.
The caller is named by the X-Test-Actor header (a role); the integration tests do the same
with real tokens from the identity provider."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_read_side_and_jobs import read_side
from yiwang.common.auth import Role
from yiwang.grid_routing.adapters.routed_cases import RoutingHistory
from yiwang.grid_routing.domain.index import GridIndex


class OneDecision(RoutingHistory):
    async def of_case(self, case_id: str) -> list[dict[str, Any]]:
        return [{"case_id": case_id, "rule_id": "r", "trigger": "received"}]


PERSON_ROLES = [
    r for r in Role if r not in (Role.PLATFORM, Role.DEPARTMENT_SYSTEM, Role.TOWNSHIP_SYSTEM)
]


@pytest.fixture
def app(tiny_index: GridIndex) -> Any:
    return read_side(tiny_index, history=OneDecision)


def point(index: GridIndex) -> dict[str, float]:
    centre = index.polygons[0].representative_point()
    return {"lon": centre.x, "lat": centre.y}


def test_without_a_credential_every_route_is_401(app: Any, tiny_index: GridIndex) -> None:
    client = TestClient(app)
    for path, params in (
        ("/grid-sets", {}),
        ("/locate", point(tiny_index)),
        ("/cases/c-1/routing", {}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 401, path
        assert answer.json()["errors"][0]["field"] == "authorization"


@pytest.mark.parametrize("role", PERSON_ROLES)
def test_every_person_reads_the_grid(app: Any, tiny_index: GridIndex, role: Role) -> None:
    client = TestClient(app, headers={"X-Test-Actor": role.value})
    assert client.get("/grid-sets").status_code == 200
    located = client.get("/locate", params=point(tiny_index))
    assert located.status_code == 200, located.text
    routing = client.get("/cases/c-1/routing")
    readers = {Role.HUB_OPERATOR, Role.AUDITOR, Role.ADMINISTRATOR}
    assert routing.status_code == (200 if role in readers else 403), role


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/locate", {"lon": "nan", "lat": 37.8}, "lon"),
        ("/locate", {"lon": 113.5, "lat": "inf"}, "lat"),
        ("/locate", {"lon": 181, "lat": 37.8}, "lon"),
        ("/locate", {"lon": 113.5}, "lat"),
        ("/cases/" + "c" * 129 + "/routing", {}, "case_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    app: Any, path: str, params: dict[str, Any], field: str
) -> None:
    answer = TestClient(app, headers={"X-Test-Actor": "auditor"}).get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
