"""Masking of personal data: what events, logs and APIs may show of a party (as intake)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D")


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the family name's first character only."""
    if not name:
        return None
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str | None:
    """13812345678 -> 138****5678; short numbers keep only the last two digits."""
    if not phone:
        return None
    digits = _DIGITS.sub("", phone)
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_id_number(id_number: str | None) -> str | None:
    """Resident ID: the 6-digit region code and the last 4 characters."""
    if not id_number:
        return None
    return f"{id_number[:6]}********{id_number[-4:]}"
