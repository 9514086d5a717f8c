"""Oversight's pure rules: projection (fold), escalation and the other timers, how a case
ends (closing, re-handling), KPIs, evaluation checks and reporting periods, each refusal its
own exception type. The SLA policy and the working-day calendar are libs/common's
(`yiwang.common.sla`, `yiwang.common.working_days`)."""
