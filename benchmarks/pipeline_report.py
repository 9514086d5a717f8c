"""pipeline.py's printed report: the table, then what it is made of."""

from __future__ import annotations

from typing import Any

from harness import wake_line

WARM_BROKER_S = 600


def report(result: dict[str, Any]) -> None:
    print(f"\nCPU reference: {result['cpu_reference_ms']:.0f} ms (one core, fixed workload;"
          " lower is faster)")  # fmt: skip
    if "wake_reference_us" in result:
        print(wake_line(result["wake_reference_us"]))
    print(f"raw produce->consume, one Python client: {result['raw_msgs_per_s']:,.0f} msgs/s")
    uptime = result.get("broker_uptime_s")
    if uptime is not None and uptime < WARM_BROKER_S:
        # 2026-11-26: Kafka's CPU per case in the flood read 0.7-1.5 ms in the first runs
        # after a start, 0.1-0.3 ms from ten minutes on (its JIT compiling).
        print(f"the broker started {uptime:.0f} s ago: until it has run some ten minutes, its"
              " CPU per case reads high (its JIT is still compiling)")  # fmt: skip
    print(f"{'phase':<14}{'cases':>7}{'dept/s':>9}{'proj/s':>9}{'p50':>8}{'p90':>8}{'p99':>8}"
          f"{'cpu/case':>10}{'stmts':>7}{'txns':>6}  complete")  # fmt: skip
    for p in result["phases"]:
        lat = p["latency_ms"]
        print(
            f"{p['phase']:<14}{p['cases']:>7}{p['cases_per_s_departments']:>9.0f}"
            f"{p['cases_per_s_oversight']:>9.0f}{lat['p50']:>7.0f}ms{lat['p90']:>6.0f}ms"
            f"{lat['p99']:>6.0f}ms{p['cpu_ms_per_case_total']:>8.1f}ms"
            f"{_per_case(p.get('statements_per_case')):>7}"
            f"{_per_case(p.get('transactions_per_case')):>6}  {p['complete']}"
        )
    for p in result["phases"]:
        if p.get("top_statements_per_case"):
            print(
                f"\nPostgreSQL statements per case, {p['phase']}, the most run"
                f" (calls, and server ms: {p.get('statement_ms_per_case') or 0:.2f} in all):"
            )
            for query, (per_case, ms) in p["top_statements_per_case"].items():
                print(f"  {per_case:5.2f} {ms:6.3f}  {' '.join(query.split())[:100]}")
    shares = [f"{p['phase']} {100 * p['system_share']:.0f}%" for p in result["phases"]
              if "system_share" in p]  # fmt: skip
    if shares:
        print("\nthe kernel's share of all that CPU: " + ", ".join(shares))
    flood = result["phases"][0]
    print("\nCPU ms per case in the flood, by process:")
    for name, ms in sorted(flood["cpu_ms_per_case"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22}{ms:6.2f}")
    idle = result["idle_cpu_ms_per_s"]
    print(
        f"idle, CPU ms per second: {sum(idle.values()):.0f} in all; "
        + ", ".join(f"{n} {ms:.0f}" for n, ms in sorted(idle.items(), key=lambda kv: -kv[1]))
    )
    if result.get("idle_statements_per_s") is not None:
        print(f"idle, PostgreSQL statements per second: {result['idle_statements_per_s']:.1f}")
    print("peak RSS (MB): " + ", ".join(f"{n} {mb:.0f}" for n, mb in result["peak_rss_mb"].items()))
    print(
        f"flood throughput / raw baseline: {flood['cases_per_s_departments'] / result['raw_msgs_per_s']:.3f}"
    )


def _per_case(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
