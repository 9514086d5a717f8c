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
    figures = [
        CaseFigures(
            f"c{n}",
            rng.choice(["urban-management", "health", "housing"]),
            f"t{n % 40}",
            ("urban-management",),
            (),
            0,
            T0 + timedelta(hours=rng.randint(0, 48)),
            T0 + timedelta(days=rng.randint(1, 10)),
            T0 + timedelta(hours=24),
            T0 + timedelta(days=7),
            rng.choice([None, 3, 4, 5]),
        )
        for n in range(50_000)
    ]
    started = time.perf_counter()
    rows = compute_kpis(GroupBy.TOWNSHIP, figures, [], as_of=T0 + timedelta(days=30))
    elapsed = time.perf_counter() - started
    print(f"kpis: 50,000 cases into {len(rows)} townships in {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
