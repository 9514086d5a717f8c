"""Personal data: sealed at rest with AES-256-GCM, and masked wherever it is shown.

Intake (reporters) and mediation (parties) keep names, phone and ID numbers in tables of
their own, sealed with a key from the environment; events, logs and APIs carry only the
masked values and a reference.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_DIGITS = re.compile(r"\D")


class PiiKeyInvalid(ValueError):
    pass


class PersonalDataVault:
    def __init__(self, key_b64: str, *, setting: str = "the personal-data key") -> None:
        try:
            key = base64.b64decode(key_b64, validate=True)
        except (binascii.Error, ValueError):
            raise PiiKeyInvalid(f"{setting} must be base64 of 32 random bytes") from None
        if len(key) != 32:
            raise PiiKeyInvalid(f"{setting} must decode to 32 bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str | None, *, context: bytes) -> bytes | None:
        """Encrypt; `context` (the person's id) is bound in, so a value cannot be moved."""
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def open(self, sealed: bytes | None, *, context: bytes) -> str | None:
        if sealed is None:
            return None
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context).decode()


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
