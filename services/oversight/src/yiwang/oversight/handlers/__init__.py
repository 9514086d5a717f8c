"""Oversight's use cases, one module per group, each function short with keyword-only
arguments and one unit of work:

- `projection`: events from the other services onto each case's timeline (and the shared
  fold that keeps the case, its timers and its bounced flag in line);
- `evaluations`: residents' evaluations, follow-up calls, deadline extensions;
- `timers`: firing the SLA timers that are due;
- `reports`: the read side (a case file, searches, KPIs, rankings, ledgers, daily report).
"""
