"""Oversight's pure hot paths: folding a timeline and computing KPIs. Prints figures.

Run: uv run --frozen python benchmarks/oversight_domain.py
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from yiwang.common.states import CaseState as S
from yiwang.oversight.domain.kpi import CaseFigures, GroupBy, compute_kpis
from yiwang.oversight.domain.projection import EntryKind, TimelineEntry, fold

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PATH = [S.RECEIVED, S.ROUTED, S.DISPATCHED, S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED]


def timeline(case_id: str) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            f"{case_id}-{i}",
            case_id,
            T0 + timedelta(minutes=10 * i),
            EntryKind.STATE_CHANGED,
            "x",
            to_state=state,
            attrs={
                "department": "urban-management",
                "category": "sanitation",
                "township_code": "t1",
            },
        )
        for i, state in enumerate(PATH)
    ]
    random.shuffle(entries)
    return entries


def main() -> None:
    cases = [timeline(f"c{n}") for n in range(5000)]
    started = time.perf_counter()
    for n, entries in enumerate(cases):
        fold(f"c{n}", entries)
    elapsed = time.perf_counter() - started
    print(
        f"fold: {len(cases) / elapsed:,.0f} six-entry timelines/s ({elapsed / len(cases) * 1e6:.0f} µs each)"
    )
    rng = random.Random(1)
    figures = []
    for n in range(50_000):
        score = rng.choice([None, 1, 2, 3, 4, 5])
        rehandling = rng.choice([0, 0, 0, 1, 2]) if score is not None else 0
        closed = rng.random() < 0.7
        figures.append(
            CaseFigures(
                case_id=f"c{n}",
                lead_department=rng.choice(["urban-management", "health", "housing"]),
                township_code=f"t{n % 40}",
                lead_history=("urban-management",),
                returned_by=(),
                return_count=0,
                responded_at=T0 + timedelta(hours=rng.randint(0, 48)),
                resolved_at=T0 + timedelta(days=rng.randint(1, 10)),
                response_due=T0 + timedelta(hours=24),
                resolution_due=T0 + timedelta(days=7),
                score=score,
                rehandling=rehandling,
                rehandled_to_hub=rehandling == 2,
                ruled=rng.random() < 0.02,
                closed=closed,
                closed_after_evaluation=closed and score is not None,
            )
        )
    started = time.perf_counter()
    rows = compute_kpis(GroupBy.TOWNSHIP, figures, [], as_of=T0 + timedelta(days=30))
    elapsed = time.perf_counter() - started
    print(
        f"kpis: 50,000 cases into {len(rows)} townships, {len(rows[0].rates)} KPIs each, in {elapsed * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
