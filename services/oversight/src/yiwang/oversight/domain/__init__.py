"""Oversight's pure rules: calendar, SLA policies, projection, escalation, KPIs."""
