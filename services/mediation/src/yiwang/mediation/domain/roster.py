"""The roster of mediators, and assignment by level, specialty and load.

A mediator serves one rung for an area given by its admin code; because admin codes nest
(community = township + 3 digits, grid = community + 3), a mediator registered for a
township code at the community rung serves every community committee in that township.
District-rung mediators belong to the centre (no trade) or to one trade committee.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.mediation.domain.ladder import (
    TRADE_COMMITTEES,
    Committee,
    DisputeType,
    MediationLevel,
)


@dataclass
class Mediator:
    mediator_id: str
    name: str
    level: MediationLevel
    area_code: str
    trade: DisputeType | None = None
    specialties: frozenset[DisputeType] = field(default_factory=frozenset)
    load: int = 0  # open mediation cases currently assigned
    capacity: int = 10
    active: bool = True
    changed_by: str | None = None  # who last registered or changed it (an audit name)

    def serves(self, committee: Committee) -> bool:
        return (
            self.active
            and self.level is committee.level
            and committee.area_code.startswith(self.area_code)
            and self.trade == committee.trade
        )


class NoMediatorAvailable(LookupError):
    def __init__(self, committee: Committee) -> None:
        self.committee = committee
        super().__init__(
            f"no active mediator with spare capacity serves committee {committee.code}; "
            "add one to the roster (POST /mediators)"
        )


class MediatorDoesNotServe(ValueError):
    def __init__(self, mediator: Mediator, committee: Committee) -> None:
        super().__init__(
            f"mediator {mediator.mediator_id} ({mediator.level}, area {mediator.area_code}"
            f"{', ' + mediator.trade if mediator.trade else ''}"
            f"{'' if mediator.active else ', inactive'}) does not serve committee "
            f"{committee.code}"
        )


class MediatorAtCapacity(ValueError):
    def __init__(self, mediator: Mediator) -> None:
        super().__init__(
            f"mediator {mediator.mediator_id} already holds {mediator.load} cases "
            f"(capacity {mediator.capacity})"
        )


class TradeNotACommittee(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class MediatorExists(ValueError):
    def __init__(self, mediator_id: str) -> None:
        self.mediator_id = mediator_id
        super().__init__(f"mediator '{mediator_id}' is already on the roster")


class CapacityBelowLoad(ValueError):
    def __init__(self, mediator: Mediator, capacity: int) -> None:
        super().__init__(
            f"mediator {mediator.mediator_id} holds {mediator.load} cases; "
            f"capacity {capacity} is below that"
        )


def check_capacity(mediator: Mediator, capacity: int | None) -> None:
    """A mediator's capacity may not drop below the cases the mediator holds now."""
    if capacity is not None and capacity < mediator.load:
        raise CapacityBelowLoad(mediator, capacity)


def check_mediator_serves(mediator: Mediator, committee: Committee) -> None:
    if not mediator.serves(committee):
        raise MediatorDoesNotServe(mediator, committee)
    if mediator.load >= mediator.capacity:
        raise MediatorAtCapacity(mediator)


def check_roster_entry(mediator: Mediator) -> None:
    if mediator.trade is not None:
        if mediator.trade not in TRADE_COMMITTEES:
            allowed = ", ".join(sorted(TRADE_COMMITTEES))
            raise TradeNotACommittee(
                f"there is no trade committee for '{mediator.trade}'; trades: {allowed}"
            )
        if mediator.level is not MediationLevel.DISTRICT:
            raise TradeNotACommittee("only district-rung mediators belong to a trade committee")


def choose_mediator(
    candidates: list[Mediator], *, committee: Committee, dispute_type: DisputeType
) -> Mediator:
    """The serving mediator with the dispute type as a specialty if any, then the lowest
    load, then the most local registration; raise NoMediatorAvailable if none."""
    fitting = [m for m in candidates if m.serves(committee) and m.load < m.capacity]
    if not fitting:
        raise NoMediatorAvailable(committee)
    return min(
        fitting,
        key=lambda m: (
            dispute_type not in m.specialties,
            m.load,
            -len(m.area_code),
            m.mediator_id,
        ),
    )


def grid_worker_mediator(worker_id: str, name: str, grid_code: str) -> Mediator:
    """A grid worker (调解员 of the five roles) as the grid rung's mediator for their grid."""
    return Mediator(
        mediator_id=worker_id,
        name=name,
        level=MediationLevel.GRID,
        area_code=grid_code,
        specialties=frozenset(DisputeType),
        capacity=10,
        changed_by="grid-routing roster",
    )


def synthetic_roster(county_code: str, townships: int) -> list[Mediator]:
    """A roster for the synthetic county grid-routing generates (townships county+NNN)."""
    every = frozenset(DisputeType)
    specialties = [
        frozenset({DisputeType.NEIGHBOUR, DisputeType.FAMILY}),
        frozenset({DisputeType.PROPERTY, DisputeType.CONSUMER}),
        frozenset({DisputeType.LAND, DisputeType.LABOUR}),
        frozenset({DisputeType.TRAFFIC, DisputeType.MEDICAL}),
    ]
    roster: list[Mediator] = []
    for t in range(1, townships + 1):
        township = f"{county_code}{t:03d}"
        for level, count in (
            (MediationLevel.GRID, 4),
            (MediationLevel.COMMUNITY, 3),
            (MediationLevel.TOWNSHIP, 2),
        ):
            for n in range(1, count + 1):
                roster.append(
                    Mediator(
                        mediator_id=f"m-{township}-{level}-{n}",
                        name=f"{township} {level} mediator {n}",
                        level=level,
                        area_code=township,
                        specialties=specialties[(t + n) % len(specialties)],
                        capacity=20,
                    )
                )
    for n in range(1, 4):
        roster.append(
            Mediator(
                mediator_id=f"m-{county_code}-centre-{n}",
                name=f"district mediation centre mediator {n}",
                level=MediationLevel.DISTRICT,
                area_code=county_code,
                specialties=every,
                capacity=30,
            )
        )
    for trade in sorted(TRADE_COMMITTEES):
        for n in range(1, 3):
            roster.append(
                Mediator(
                    mediator_id=f"m-{county_code}-{trade}-{n}",
                    name=f"{trade} committee mediator {n}",
                    level=MediationLevel.DISTRICT,
                    area_code=county_code,
                    trade=trade,
                    specialties=frozenset({trade}),
                    capacity=30,
                )
            )
    return roster


class UnknownMediator(LookupError):
    def __init__(self, mediator_id: str) -> None:
        self.mediator_id = mediator_id
        super().__init__(f"no mediator '{mediator_id}' on the roster")


def check_found_mediator(mediator: Mediator | None, mediator_id: str) -> Mediator:
    if mediator is None:
        raise UnknownMediator(mediator_id)
    return mediator
