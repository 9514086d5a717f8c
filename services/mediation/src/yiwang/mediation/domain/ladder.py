"""The people's mediation ladder (人民调解): rungs, dispute types and committees.

grid mediator > village/community committee > township/street committee > district people's
mediation centre, or the trade committee for the dispute type > referral to court or
arbitration (诉调对接). Committees come from the grid network: the case's community or
township, as grid-routing placed it (CaseRouted.micro_grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from yiwang.common.events import MicroGridRef


class MediationLevel(StrEnum):
    GRID = "grid"  # 网格调解员
    COMMUNITY = "community"  # 村(社区)人民调解委员会
    TOWNSHIP = "township"  # 乡镇(街道)人民调解委员会
    DISTRICT = "district"  # 区人民调解中心 / 行业性专业性调解委员会


LADDER = (
    MediationLevel.GRID,
    MediationLevel.COMMUNITY,
    MediationLevel.TOWNSHIP,
    MediationLevel.DISTRICT,
)


class DisputeType(StrEnum):
    NEIGHBOUR = "neighbour"
    FAMILY = "family"
    PROPERTY = "property"
    LABOUR = "labour"
    LAND = "land"
    CONSUMER = "consumer"
    TRAFFIC = "traffic"
    MEDICAL = "medical"


class ReferralVenue(StrEnum):
    COURT = "court"  # 诉调对接: the people's court
    ARBITRATION = "arbitration"  # labour dispute arbitration (劳动人事争议仲裁)


# Dispute types that have their own trade committee at the district rung (行业性调委会).
TRADE_COMMITTEES = frozenset(
    {
        DisputeType.LABOUR,
        DisputeType.PROPERTY,
        DisputeType.MEDICAL,
        DisputeType.TRAFFIC,
        DisputeType.FAMILY,
    }
)


class NotADispute(ValueError):
    def __init__(self, category: str) -> None:
        self.category = category
        super().__init__(f"category '{category}' is not a dispute that mediation takes")


def dispute_type_for(category: str) -> DisputeType:
    """neighbour-dispute -> neighbour; raise NotADispute for other categories."""
    head, _, tail = category.partition("-")
    if tail != "dispute" or head not in set(DisputeType):
        raise NotADispute(category)
    return DisputeType(head)


def default_venue(dispute_type: DisputeType) -> ReferralVenue:
    """Labour disputes go to arbitration first by law; everything else to the court."""
    return ReferralVenue.ARBITRATION if dispute_type is DisputeType.LABOUR else ReferralVenue.COURT


def next_level(level: MediationLevel) -> MediationLevel | None:
    """The rung above, or None at the top (what is left is referral)."""
    index = LADDER.index(level)
    return LADDER[index + 1] if index + 1 < len(LADDER) else None


@dataclass(frozen=True)
class LadderPolicy:
    """How the ladder is run here: each rung's time limit, and the county whose district
    rung takes disputes with no micro-grid (both from the service's settings)."""

    time_limit: timedelta  # per rung
    county_code: str


@dataclass(frozen=True, slots=True)
class Committee:
    """Who mediates at a rung: an area (admin code) and, at the district rung, a trade."""

    level: MediationLevel
    area_code: str
    trade: DisputeType | None = None

    @property
    def code(self) -> str:
        suffix = f":{self.trade}" if self.trade else ""
        return f"{self.level}:{self.area_code}{suffix}"


def starting_level(micro_grid: MicroGridRef | None) -> MediationLevel:
    """Small matters stay in the grid; a case with no micro-grid starts at the district."""
    return MediationLevel.GRID if micro_grid is not None else MediationLevel.DISTRICT


def committee_for(
    level: MediationLevel,
    *,
    micro_grid: MicroGridRef | None,
    dispute_type: DisputeType,
    county_code: str,
) -> Committee:
    if level is MediationLevel.DISTRICT or micro_grid is None:
        county = micro_grid.county_code if micro_grid else county_code
        trade = dispute_type if dispute_type in TRADE_COMMITTEES else None
        return Committee(MediationLevel.DISTRICT, county, trade)
    area = {
        MediationLevel.GRID: micro_grid.grid_code,
        MediationLevel.COMMUNITY: micro_grid.community_code,
        MediationLevel.TOWNSHIP: micro_grid.township_code,
    }[level]
    return Committee(level, area)
