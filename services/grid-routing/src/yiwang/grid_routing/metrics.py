"""grid-routing's own metrics. Labels are bounded: 3 triggers x ~11 rule kinds x 3 tiers.

How cases leave routing (PromQL, see docs/grid-routing.md): the share sent to triage,
    sum(rate(yiwang_routing_decisions_total{rule=~"triage/.*"}[1h]))
      / sum(rate(yiwang_routing_decisions_total[1h]))
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter
from yiwang.grid_routing.domain.routing import RoutingDecision
from yiwang.grid_routing.domain.rules import rule_kind

ROUTING_DECISIONS = Counter(
    "yiwang_routing_decisions_total",
    "Routing decisions committed, by what asked for them (received, returned, mediation), "
    "the kind of rule that made them (matrix, reroute, after-mediation, triage/..., "
    "arbitration/...) and the tier",
    ["trigger", "rule", "tier"],
)


def count_decisions(decisions: Iterable[RoutingDecision], *, trigger: str) -> None:
    """Count decisions whose transaction committed (never a per-category rule id)."""
    for decision in decisions:
        ROUTING_DECISIONS.labels(trigger, rule_kind(decision.rule_id), decision.tier.value).inc()


GRID_TASKS = Counter(
    "yiwang_grid_tasks_total",
    "Grid tasks (小事不出网格) by what happened to them, counted once committed: assigned, "
    "settled (on the spot), passed_up (by the worker), timed_out (passed up at the grid "
    "deadline), reopened (a settlement passed up after an unsatisfied evaluation)",
    ["outcome"],
)
