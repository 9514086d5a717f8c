"""The category taxonomy shared by intake (Open311 service codes) and routing (the matrix).

Who handles a category is not decided here: that is grid-routing's responsibility
matrix. This module only names the categories so every service spells them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CategoryGroup(StrEnum):
    CITY_APPEARANCE = "city-appearance"
    MARKET = "market"
    SOCIAL_ASSISTANCE = "social-assistance"
    LABOUR = "labour"
    DISPUTE = "dispute"
    SAFETY = "safety"
    UTILITIES = "utilities"
    ENVIRONMENT = "environment"
    PETITION = "petition"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    group: CategoryGroup
    keywords: tuple[str, ...] = ()

    @property
    def is_dispute(self) -> bool:
        return self.group is CategoryGroup.DISPUTE

    @property
    def public(self) -> bool:
        """Listed on public reads (Open311 GET): never petitions (信访), disputes between
        people, or public-security reports."""
        return self.group not in (CategoryGroup.PETITION, CategoryGroup.DISPUTE) and (
            self.code not in NOT_PUBLIC
        )


# Public-security reports: who reported a public-order risk is not for a public list.
NOT_PUBLIC = frozenset({"public-order"})

G = CategoryGroup
_TAXONOMY = (
    Category("sanitation", "环境卫生", "Sanitation and litter", G.CITY_APPEARANCE, ("rubbish",)),
    Category("illegal-construction", "违法建设", "Illegal construction", G.CITY_APPEARANCE),
    Category("street-vending", "占道经营", "Street vending", G.CITY_APPEARANCE),
    Category("illegal-parking", "违章停车", "Illegal parking", G.CITY_APPEARANCE),
    Category("road-damage", "道路破损", "Damaged road or pavement", G.CITY_APPEARANCE),
    Category("streetlight", "路灯故障", "Broken streetlight", G.CITY_APPEARANCE),
    Category("food-safety", "食品安全", "Food safety", G.MARKET),
    Category("price-fraud", "价格欺诈", "Price fraud", G.MARKET),
    Category("unlicensed-business", "无照经营", "Unlicensed business", G.MARKET),
    Category("counterfeit-goods", "假冒伪劣", "Counterfeit goods", G.MARKET),
    Category(
        "subsistence-allowance", "低保救助", "Subsistence allowance (dibao)", G.SOCIAL_ASSISTANCE
    ),
    Category("elderly-care", "养老服务", "Elderly care", G.SOCIAL_ASSISTANCE),
    Category("disability-aid", "残疾人帮扶", "Disability aid", G.SOCIAL_ASSISTANCE),
    Category("wage-arrears", "欠薪", "Wage arrears", G.LABOUR),
    Category(
        "land-compensation-petition", "征地补偿信访", "Land compensation petition", G.PETITION
    ),
    Category("petition-general", "一般信访事项", "General petition", G.PETITION),
    Category("neighbour-dispute", "邻里纠纷", "Neighbour dispute", G.DISPUTE),
    Category("family-dispute", "婚姻家庭纠纷", "Family dispute", G.DISPUTE),
    Category("property-dispute", "物业纠纷", "Property management dispute", G.DISPUTE),
    Category("labour-dispute", "劳动争议", "Labour dispute", G.DISPUTE),
    Category("land-dispute", "土地纠纷", "Land dispute", G.DISPUTE),
    Category("consumer-dispute", "消费纠纷", "Consumer dispute", G.DISPUTE),
    Category("traffic-dispute", "交通事故纠纷", "Traffic accident dispute", G.DISPUTE),
    Category("medical-dispute", "医疗纠纷", "Medical dispute", G.DISPUTE),
    Category("gas-leak", "燃气泄漏", "Gas leak", G.SAFETY),
    Category("fire-hazard", "消防隐患", "Fire hazard", G.SAFETY),
    Category("unsafe-building", "危房隐患", "Unsafe building", G.SAFETY),
    Category("public-order", "治安隐患", "Public order risk", G.SAFETY),
    Category("water-outage", "停水", "Water outage", G.UTILITIES),
    Category("power-outage", "停电", "Power outage", G.UTILITIES),
    Category("heating-failure", "供暖不热", "Heating failure", G.UTILITIES),
    Category("noise", "噪声扰民", "Noise nuisance", G.ENVIRONMENT),
    Category("pollution", "环境污染", "Pollution", G.ENVIRONMENT),
    Category("other", "其他", "Other", G.OTHER),
)

CATEGORIES: dict[str, Category] = {c.code: c for c in _TAXONOMY}


class UnknownCategory(ValueError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown category '{code}'; known: {', '.join(sorted(CATEGORIES))}")


def check_category(code: str) -> Category:
    """Return the category for a code, or raise UnknownCategory."""
    try:
        return CATEGORIES[code]
    except KeyError:
        raise UnknownCategory(code) from None
