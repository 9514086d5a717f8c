"""Department codes: the names departments know themselves by on their Kafka topics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Department(StrEnum):
    COMPREHENSIVE_GOVERNANCE = "comprehensive-governance"  # 综治
    CIVIL_AFFAIRS = "civil-affairs"  # 民政
    PETITION = "petition"  # 信访
    MARKET_SUPERVISION = "market-supervision"  # 市场监管
    URBAN_MANAGEMENT = "urban-management"  # 城管
    EMERGENCY_MANAGEMENT = "emergency-management"  # 应急管理
    HEALTH = "health"  # 卫健
    PUBLIC_SECURITY = "public-security"  # 警务
    HUMAN_RESOURCES = "human-resources"  # 人社 (wage arrears, labour)
    HOUSING = "housing"  # 住建 (property management, construction)
    NATURAL_RESOURCES = "natural-resources"  # 自然资源 (land)
    ECOLOGY_ENVIRONMENT = "ecology-environment"  # 生态环境
    UTILITIES = "utilities"  # 水电气暖 operators
    JUSTICE = "justice"  # 司法 (people's mediation)


@dataclass(frozen=True, slots=True)
class DepartmentInfo:
    code: Department
    name_zh: str
    name_en: str


DEPARTMENTS: dict[Department, DepartmentInfo] = {
    d.code: d
    for d in (
        DepartmentInfo(Department.COMPREHENSIVE_GOVERNANCE, "综治中心", "Comprehensive governance"),
        DepartmentInfo(Department.CIVIL_AFFAIRS, "民政局", "Civil affairs"),
        DepartmentInfo(Department.PETITION, "信访局", "Letters and visits (petition)"),
        DepartmentInfo(Department.MARKET_SUPERVISION, "市场监管局", "Market supervision"),
        DepartmentInfo(Department.URBAN_MANAGEMENT, "城管局", "Urban management"),
        DepartmentInfo(Department.EMERGENCY_MANAGEMENT, "应急管理局", "Emergency management"),
        DepartmentInfo(Department.HEALTH, "卫健局", "Health"),
        DepartmentInfo(Department.PUBLIC_SECURITY, "公安局", "Public security"),
        DepartmentInfo(Department.HUMAN_RESOURCES, "人社局", "Human resources and social security"),
        DepartmentInfo(Department.HOUSING, "住建局", "Housing and construction"),
        DepartmentInfo(Department.NATURAL_RESOURCES, "自然资源局", "Natural resources"),
        DepartmentInfo(Department.ECOLOGY_ENVIRONMENT, "生态环境局", "Ecology and environment"),
        DepartmentInfo(Department.UTILITIES, "公用事业", "Utilities (water, power, gas, heat)"),
        DepartmentInfo(Department.JUSTICE, "司法局", "Justice (people's mediation)"),
    )
}
