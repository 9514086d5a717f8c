"""The mediation use cases, one module per group; each runs inside one unit of work.

- disputes.py: open a routed dispute, accept or decline it, assign a mediator, schedule
  a session
- outcomes.py: agreement, failure (up a rung), withdrawal, referral, follow-up
- parties.py: parties (sealed), the amount in dispute, viewing and searching mediations
- roster.py: register, change, list and seed mediators
- timers.py: fire the durable timers that fell due
- steps.py: what they share (recording steps, mediator load, the rung's timer)
"""

from yiwang.mediation.handlers.disputes import (
    CONSUMER,
    accept_dispute,
    assign_mediator,
    decline_dispute,
    open_routed_dispute,
    open_routed_disputes,
    schedule_session,
)
from yiwang.mediation.handlers.outcomes import (
    record_agreement,
    record_failure,
    record_follow_up,
    refer_dispute,
    withdraw_dispute,
)
from yiwang.mediation.handlers.parties import (
    MediationView,
    add_party,
    search_mediations,
    set_amount_in_dispute,
    update_party,
    view_mediation,
)
from yiwang.mediation.handlers.roster import (
    MediatorChanges,
    list_mediators,
    register_mediator,
    seed_roster,
    update_mediator,
)
from yiwang.mediation.handlers.timers import fire_due_timers

__all__ = [
    "CONSUMER",
    "MediationView",
    "MediatorChanges",
    "accept_dispute",
    "add_party",
    "assign_mediator",
    "decline_dispute",
    "fire_due_timers",
    "list_mediators",
    "open_routed_dispute",
    "open_routed_disputes",
    "record_agreement",
    "record_failure",
    "record_follow_up",
    "refer_dispute",
    "register_mediator",
    "schedule_session",
    "search_mediations",
    "seed_roster",
    "set_amount_in_dispute",
    "update_mediator",
    "update_party",
    "view_mediation",
    "withdraw_dispute",
]
