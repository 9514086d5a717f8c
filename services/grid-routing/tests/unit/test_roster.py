"""The roster of grid workers (五大员): read from CSV or GeoJSON properties, every row
checked against the active grid set; one bad row refuses the whole import, named."""

from __future__ import annotations

import pytest
from routing_fakes import FakeRosters
from yiwang.common.events import WorkerRole
from yiwang.grid_routing.domain.errors import NoGridSet
from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.roster import (
    RosterRejected,
    agent_for,
    check_roster,
    read_roster_csv,
    read_roster_geojson,
)
from yiwang.grid_routing.handlers import rosters

TINY_ADMIN = generate_county("tiny")["admin"]


@pytest.fixture
def codes(tiny_index: GridIndex) -> frozenset[str]:
    return frozenset(ref.code for ref in tiny_index.micro_grid_refs)


def test_the_synthetic_roster_covers_every_micro_grid_with_all_five_roles(
    codes: frozenset[str],
) -> None:
    rows = synthetic_roster(TINY_ADMIN)
    assert rows == synthetic_roster(TINY_ADMIN)  # deterministic
    workers = check_roster(rows, micro_grids=codes, grid_set=1)
    assert {c for w in workers for c in w.micro_grids} == codes
    assert all(w.roles == frozenset(WorkerRole) for w in workers)
    assert all(1 <= len(w.micro_grids) <= 3 for w in workers)
    assert workers[0].worker_id == "gw-140399001001001-1"
    assert all(agent_for(workers, c) is not None for c in codes)


def test_csv_rows_with_chinese_role_names(codes: frozenset[str]) -> None:
    first, second = sorted(codes)[:2]
    text = (
        "\ufeffworker_id,name,micro_grids,roles\n"
        f"w-1,王建国,{first};{second},信息员;代办员\n"
        f'w-2,李秀英,"{second}","mediator, publicist"\n'
    )
    one, two = check_roster(read_roster_csv(text), micro_grids=codes, grid_set=3)
    assert one.micro_grids == (first, second)
    assert one.roles == {WorkerRole.INFORMANT, WorkerRole.AGENT}
    assert two.roles == {WorkerRole.MEDIATOR, WorkerRole.PUBLICIST}
    assert agent_for([one, two], second) == one


def test_an_unknown_micro_grid_or_a_worker_without_a_role_refuses_the_whole_import(
    codes: frozenset[str],
) -> None:
    known = min(codes)
    text = (
        "worker_id,name,micro_grids,roles\n"
        f"w-1,王建国,{known},agent\n"
        "w-2,李秀英,99999999999999999,agent\n"
        f"w-3,张伟,{known},\n"
        f"w-1,刘明,{known},agent\n"
        f"w-5,赵军,{known},cook\n"
    )
    with pytest.raises(RosterRejected) as refused:
        check_roster(read_roster_csv(text), micro_grids=codes, grid_set=4)
    problems = refused.value.problems
    assert problems[0] == "row 2 (worker w-2): micro-grid 99999999999999999 is not in grid set v4"
    assert problems[1].startswith("row 3 (worker w-3): has no role")
    assert problems[2] == "row 4 (worker w-1): worker_id w-1 is also on row 1"
    assert problems[3] == "row 5 (worker w-5): unknown role cook"
    assert len(problems) == 4


def test_geojson_properties_and_bad_documents(codes: frozenset[str]) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None,
             "properties": {"worker_id": "w-9", "name": "周红梅",
                            "micro_grids": sorted(codes)[:2], "roles": ["agent"]}},
        ],
    }  # fmt: skip
    [worker] = check_roster(read_roster_geojson(collection), micro_grids=codes, grid_set=1)
    assert worker.micro_grids == tuple(sorted(codes)[:2])
    with pytest.raises(RosterRejected, match="not a GeoJSON FeatureCollection"):
        read_roster_geojson({"type": "Feature"})
    with pytest.raises(RosterRejected, match="missing column"):
        read_roster_csv("worker_id,name\nw-1,x\n")
    with pytest.raises(RosterRejected, match="no rows"):
        check_roster([], micro_grids=codes, grid_set=1)


async def test_an_import_is_a_new_active_version_and_a_refused_one_stores_nothing(
    codes: frozenset[str],
) -> None:
    repository = FakeRosters(codes)
    rows = synthetic_roster(TINY_ADMIN)
    assert await rosters.import_roster(rosters=repository, rows=rows, label="a", source="t") == 1
    bad = [*rows, {"worker_id": "w-x", "name": "x", "micro_grids": "nowhere", "roles": "agent"}]
    with pytest.raises(RosterRejected, match=f"row {len(bad)} "):
        await rosters.import_roster(rosters=repository, rows=bad, label="b", source="t")
    assert [s.active for s in await repository.summaries()] == [True]
    with pytest.raises(NoGridSet):
        await rosters.import_roster(rosters=FakeRosters(), rows=rows, label="c", source="t")


async def test_the_synthetic_roster_comes_with_the_synthetic_grid_set(
    codes: frozenset[str],
) -> None:
    repository = FakeRosters(codes)
    assert await rosters.bootstrap_roster(rosters=repository, preset="tiny") == 1
    assert await rosters.bootstrap_roster(rosters=repository, preset="tiny") is None
    # another county's grid set: the preset's roster does not fit, and nothing is stored
    elsewhere = FakeRosters(frozenset({"1"}))
    assert await rosters.bootstrap_roster(rosters=elsewhere, preset="tiny") is None
    assert await elsewhere.summaries() == []


def test_documents_that_are_not_a_roster_are_refused_not_crashed_on() -> None:
    with pytest.raises(RosterRejected, match="not CSV"):
        read_roster_csv("worker_id,name,micro_grids,roles\n" + "w," + "x" * 200_000 + ",a,b\n")
    with pytest.raises(RosterRejected, match="not a list"):
        read_roster_geojson({"type": "FeatureCollection", "features": 5})
    assert read_roster_geojson({"type": "FeatureCollection", "features": [7]}) == [{}]
