"""The published event contract (docs/asyncapi/) is current, and the official AsyncAPI
parser (npm @asyncapi/parser, pinned in tests/contract/) finds it valid: the whole document
and each service's part, as the services serve it at /asyncapi.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from yiwang.common import asyncapi
from yiwang.common.envelope import dataschema
from yiwang.common.events import EVENT_TYPES
from yiwang.common.kafka_acls import SERVICES
from yiwang.common.topics import TOPICS

CONTRACT = Path(__file__).resolve().parent / "contract"


@pytest.fixture(scope="module")
def validator() -> list[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node, "Node.js is needed to validate the AsyncAPI document"
    assert npm, "npm is needed to install the AsyncAPI parser"
    if not (CONTRACT / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CONTRACT, check=True,
            timeout=600,
        )  # fmt: skip
    return [node, str(CONTRACT / "validate.mjs")]


def test_the_published_contract_is_current() -> None:
    assert asyncapi.main(["check"]) == 0, "run: python -m yiwang.common.asyncapi write"


def test_the_official_parser_accepts_the_document(validator: list[str]) -> None:
    found = subprocess.run(
        [*validator, str(asyncapi.DOCS_DIR / "asyncapi.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert found.returncode == 0, found.stdout + found.stderr
    assert "valid AsyncAPI 3.1.0" in found.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_part_is_valid(service: str, validator: list[str], tmp_path: Path) -> None:
    part = asyncapi.document(service=service)
    path = tmp_path / f"{service}.json"
    path.write_text(json.dumps(part), encoding="utf-8")
    found = subprocess.run([*validator, str(path)], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stdout + found.stderr
    assert all(op.startswith(f"{service}-") for op in part["operations"])
    assert part["operations"], f"{service} neither produces nor consumes anything?"


def test_the_parser_refuses_a_broken_document(validator: list[str], tmp_path: Path) -> None:
    broken = asyncapi.document()
    first = next(iter(broken["operations"].values()))
    first["channel"]["$ref"] = "#/channels/no-such-channel"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    found = subprocess.run([*validator, str(path)], capture_output=True, text=True, timeout=120)
    assert found.returncode == 1
    assert "no-such-channel" in found.stdout


def test_every_topic_says_what_it_carries_and_every_type_has_a_topic() -> None:
    assert all(spec.events for spec in TOPICS), [s.name for s in TOPICS if not s.events]
    carried = {m.event_type for spec in TOPICS for m in spec.events}
    # Commands and events that never travel alone on a topic (nested in others) are fine;
    # every type a consumer can decode must be published somewhere.
    assert carried == set(EVENT_TYPES), set(EVENT_TYPES) ^ carried


def test_each_schema_is_the_one_its_records_name() -> None:
    for path in (asyncapi.DOCS_DIR / "schemas").glob("*.json"):
        schema = json.loads(path.read_text("utf-8"))
        assert schema["$id"] == dataschema(path.name.removesuffix(".json"))
