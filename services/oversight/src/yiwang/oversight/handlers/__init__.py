"""Oversight's use cases, one module per group, each function short with keyword-only
arguments and one unit of work:

- `projection`: events from the other services onto each case's timeline, the hub's
  rulings among them (and the shared
  fold that keeps the case, its timers and its bounced flag in line);
- `evaluations`: residents' evaluations and how they end a case (closed, or reopened for
  re-handling), follow-up calls, deadline extensions;
- `timers`: firing the timers that are due (alerts; closing cases nobody evaluated);
- `reports`: the read side (a case file, searches, KPIs, rankings, ledgers, daily report);
  `period_reports` the weekly and monthly reports (周调度, 月盘点), `ledgers` the public
  ledger (晒账);
- `assessments`: townships' monthly assessments of departments (一考双评);
- `reconciliation`: a period reconciled across intake, dispatch and oversight (对账).
"""
