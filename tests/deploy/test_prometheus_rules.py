"""The alert rules and Prometheus configuration, checked and unit-tested with promtool."""

from __future__ import annotations

import subprocess

import yaml
from deploy_support import DEPLOY, tool

PROMETHEUS = DEPLOY / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def test_the_rules_are_valid() -> None:
    done = promtool("check", "rules", "rules/yiwang.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rule_unit_tests_pass() -> None:
    done = promtool("test", "rules", "tests/yiwang.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = (PROMETHEUS / "rules/yiwang.rules.yml").read_text()
    tests = (PROMETHEUS / "tests/yiwang.rules.test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    assert len(alerts) >= 5
    assert [a for a in alerts if f"alertname: {a}" not in tests] == []


def test_the_compose_prometheus_config_is_valid() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_year_no_calendar_covers_alerts_the_operator_with_what_to_do() -> None:
    rules = yaml.safe_load((PROMETHEUS / "rules/yiwang.rules.yml").read_text(encoding="utf-8"))
    [rule] = [
        r
        for group in rules["groups"]
        for r in group["rules"]
        if r.get("alert") == "YiwangCalendarYearMissing"
    ]
    assert rule["expr"].strip() == "max by (year) (yiwang_calendar_year_missing) == 1"
    assert rule["labels"]["severity"] == "warning"
    assert "docs/operations.md#calendar" in rule["annotations"]["summary"]
    assert "State Council" in rule["annotations"]["summary"]
