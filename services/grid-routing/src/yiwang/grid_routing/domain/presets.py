"""The synthetic counties the generator can make, and the names it gives their units."""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.departments import Department


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    county_code: str
    county_name: str
    bbox: tuple[float, float, float, float]  # west, south, east, north
    columns: int  # micro-grid lattice
    rows: int
    townships: int
    communities: int
    grids: int
    township_suffix: str
    zones: int  # roughly how many units a department layer has


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny", "140399", "示范县", (113.55, 37.85, 113.574, 37.868), 8, 6, 2, 4, 12, "镇", 4
        ),
        Preset(
            "district",
            "140302",
            "城区",
            (113.52, 37.83, 113.62, 37.91),
            80,
            75,
            7,
            54,
            900,
            "街道",
            30,
        ),
        Preset(
            "city",
            "140300",
            "阳泉市",
            (113.40, 37.80, 113.70, 38.00),
            123,
            100,
            14,
            160,
            1850,
            "镇",
            60,
        ),
    )
}

TOWNSHIP_NAMES = [
    "上站",
    "下站",
    "北大街",
    "南山路",
    "义井",
    "矿流",
    "桃北",
    "桃南",
    "赛鱼",
    "平坦",
    "旧街",
    "荫营",
    "河底",
    "李家庄",
    "西南舁",
    "白羊墅",
]
COMMUNITY_WORDS = [
    "和平",
    "建设",
    "红旗",
    "光明",
    "幸福",
    "友谊",
    "新华",
    "文化",
    "桃园",
    "丽景",
    "东城",
    "西苑",
    "南园",
    "北苑",
    "锦绣",
    "康乐",
]
LAYER_NAMES: dict[Department, tuple[str, str]] = {
    Department.COMPREHENSIVE_GOVERNANCE: ("ZZ", "综治片区"),
    Department.CIVIL_AFFAIRS: ("MZ", "民政服务片区"),
    Department.PETITION: ("XF", "信访联络片区"),
    Department.MARKET_SUPERVISION: ("SJ", "市场监管所辖区"),
    Department.URBAN_MANAGEMENT: ("CG", "城管中队辖区"),
    Department.EMERGENCY_MANAGEMENT: ("YJ", "应急管理片区"),
}
# Layers differ in resolution too: petition and emergency work in larger areas.
LAYER_SCALE: dict[Department, float] = {
    Department.COMPREHENSIVE_GOVERNANCE: 1.0,
    Department.CIVIL_AFFAIRS: 0.7,
    Department.PETITION: 0.3,
    Department.MARKET_SUPERVISION: 0.6,
    Department.URBAN_MANAGEMENT: 0.9,
    Department.EMERGENCY_MANAGEMENT: 0.4,
}
# Grid workers' names in the synthetic roster (surname + given name, deterministic).
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN_NAMES = ("建国", "秀英", "志强", "桂兰", "海燕", "明", "丽娟", "伟", "红梅", "军",
               "淑珍", "小平", "玉兰", "文斌", "春花", "国庆", "晓东", "凤英", "永红", "德华")  # fmt: skip
# A synthetic worker serves up to this many neighbouring micro-grids of one grid.
MICRO_GRIDS_PER_WORKER = 3
