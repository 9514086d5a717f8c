"""Who may see a mediation and who may act on it.

A mediator serves a committee's area (the `committee` claim, an admin code) and every area
within it: they see and act on the mediations whose committee lies in that area, at any
rung. The county hub (hub operator) sees and acts on every mediation; an auditor sees
every one and changes none. The routes let only these roles in (`allow`); these checks
bind the mediator to the mediation, inside the use case, against what is stored.
"""

from __future__ import annotations

from yiwang.common.auth import Actor, Forbidden, Role, check_committee
from yiwang.mediation.domain.workflow import MediationCase

SEE_ALL = (Role.HUB_OPERATOR, Role.AUDITOR)
ACT_ON_ALL = (Role.HUB_OPERATOR,)


def visible_area(actor: Actor) -> str | None:
    """The area code a search keeps to: None for every mediation, else the mediator's
    committee area. Forbidden for a mediator without a committee, or another role."""
    if actor.has(*SEE_ALL):
        return None
    if actor.has(Role.MEDIATOR) and actor.committee:
        return actor.committee
    raise Forbidden(f"{actor.audit_name} serves no mediation committee")


def check_may_read(actor: Actor, case: MediationCase) -> None:
    if actor.has(*SEE_ALL):
        return
    _check_mediator_of(actor, case)


def check_may_act(actor: Actor, case: MediationCase) -> None:
    """A hub operator, or a mediator whose committee area holds the mediation's committee."""
    if actor.has(*ACT_ON_ALL):
        return
    _check_mediator_of(actor, case)


def _check_mediator_of(actor: Actor, case: MediationCase) -> None:
    if not actor.has(Role.MEDIATOR):
        raise Forbidden(f"{actor.audit_name} may not act on mediation {case.mediation_id}")
    check_committee(actor, case.committee.area_code)
