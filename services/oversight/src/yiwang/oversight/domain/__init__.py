"""Oversight's pure rules: calendar, SLA policies, projection, escalation, KPIs,
evaluation checks and reporting periods, each refusal its own exception type."""
