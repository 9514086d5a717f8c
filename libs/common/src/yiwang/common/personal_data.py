"""Personal data: sealed at rest with AES-256-GCM under rotating keys, masked wherever it
is shown, and scrubbed out of free text.

Intake (reporters) and mediation (parties) keep names, phone and ID numbers in tables of
their own, sealed; events, logs and APIs carry only masked values and a reference.
Residents also type numbers into descriptions ("老板电话139-1234-5678"): `scrub` takes
phones (mobile, +86, dashed or spaced, landlines), resident ID numbers and e-mail
addresses out of free text before it leaves the service that received it.

Keys rotate: a vault holds several keys, each with an id, seals with the current one and
opens with whichever sealed a value (its id travels in the sealed bytes), so values sealed
before a rotation stay readable until they are sealed again.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
FORMAT_KEYED = 1  # first byte of a value sealed with a key id
LEGACY_KEY_ID = "legacy"  # values sealed before key ids: nonce + ciphertext
_DIGITS = re.compile(r"\D")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class PiiKeyInvalid(ValueError):
    pass


class PersonalDataVault:
    """`keys`: key id -> base64 of 32 random bytes; `current` seals, all open."""

    def __init__(
        self,
        keys: Mapping[str, str] | str,
        *,
        current: str | None = None,
        setting: str = "the personal-data key",
    ) -> None:
        parsed = parse_keys(keys, setting=setting) if isinstance(keys, str) else dict(keys)
        self._aeads = {kid: AESGCM(_decode(raw, setting=setting)) for kid, raw in parsed.items()}
        self.current = current or next(iter(parsed))
        if self.current not in self._aeads:
            raise PiiKeyInvalid(f"{setting}: the current key id '{self.current}' has no key")

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aeads)

    def seal(self, plaintext: str | None, *, context: bytes) -> bytes | None:
        """Encrypt; `context` (the person's id) is bound in, so a value cannot be moved."""
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        kid = self.current.encode()
        sealed = self._aeads[self.current].encrypt(nonce, plaintext.encode(), context)
        return bytes([FORMAT_KEYED, len(kid)]) + kid + nonce + sealed

    def open(self, sealed: bytes | None, *, context: bytes) -> str | None:
        if sealed is None:
            return None
        kid, nonce, ciphertext = split_sealed(sealed)
        aead = self._aeads.get(kid)
        # A value sealed before key ids starts with its random nonce, whose first byte is
        # the keyed format's one time in 256: then it is read as legacy after all.
        legacy = self._aeads.get(LEGACY_KEY_ID) if kid != LEGACY_KEY_ID else None
        if aead is None and legacy is None:
            raise PiiKeyInvalid(f"sealed with key '{kid}', which this vault does not hold")
        if aead is not None:
            try:
                return aead.decrypt(nonce, ciphertext, context).decode()
            except InvalidTag:
                if legacy is None:
                    raise
        assert legacy is not None
        return legacy.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context).decode()

    def needs_reseal(self, sealed: bytes | None) -> bool:
        return sealed is not None and split_sealed(sealed)[0] != self.current

    def reseal(self, sealed: bytes | None, *, context: bytes) -> bytes | None:
        """The value sealed again under the current key (for key rotation)."""
        return self.seal(self.open(sealed, context=context), context=context)


def split_sealed(sealed: bytes) -> tuple[str, bytes, bytes]:
    """(key id, nonce, ciphertext) of a sealed value, keyed or legacy."""
    if sealed[:1] == bytes([FORMAT_KEYED]) and len(sealed) > 2:
        length = sealed[1]
        kid = sealed[2 : 2 + length].decode(errors="replace")
        rest = sealed[2 + length :]
        return kid, rest[:NONCE_BYTES], rest[NONCE_BYTES:]
    return LEGACY_KEY_ID, sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]


def parse_keys(raw: str, *, setting: str) -> dict[str, str]:
    """`kid:base64,kid2:base64` (the first is current), or one bare base64 key, which is
    the key of values sealed before key ids existed."""
    raw = raw.strip()
    if not raw:
        raise PiiKeyInvalid(f"{setting} is empty")
    if ":" not in raw:
        return {LEGACY_KEY_ID: raw}
    keys: dict[str, str] = {}
    for part in raw.split(","):
        kid, _, value = part.strip().partition(":")
        if not _KEY_ID.match(kid) or not value:
            raise PiiKeyInvalid(
                f"{setting}: '{kid}' must be <key id>:<base64 key>, ids [A-Za-z0-9_.-]"
            )
        if kid in keys:
            raise PiiKeyInvalid(f"{setting}: key id '{kid}' is given twice")
        keys[kid] = value
    return keys


def _decode(key_b64: str, *, setting: str) -> bytes:
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise PiiKeyInvalid(f"{setting} must be base64 of 32 random bytes") from None
    if len(key) != 32:
        raise PiiKeyInvalid(f"{setting} must decode to 32 bytes, not {len(key)}")
    return key


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
        return f"{digits[-11:-8]}****{digits[-4:]}"
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_id_number(id_number: str | None) -> str | None:
    """Resident ID: the 6-digit region code and the last 4 characters."""
    if not id_number:
        return None
    return f"{id_number[:6]}********{id_number[-4:]}"


# --- free text ---------------------------------------------------------------------------

_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９＋－（）＠．", "0123456789+-()@."
)  # same length: spans found in the translation are spans of the original
_SEP = r"[\s\-.]?"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[邮箱]", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    # Resident ID: 18 characters (the last may be X), or the old 15 digits.
    ("[身份证号]", re.compile(r"(?<![0-9A-Za-z])(?:\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]|\d{15})(?![0-9A-Za-z])")),
    # Mobile: 11 digits from 13-19, with +86 / 0086 / (86) and spaces or dashes anywhere.
    ("[手机号]", re.compile(
        r"(?<![\d+])(?:(?:\+|00)?86[\s-]?|\(\+?86\)[\s-]?)?"
        rf"1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)"
    )),
    # Landline: an area code 0xx / 0xxx (maybe in brackets), 7-8 digits, an extension.
    ("[电话]", re.compile(
        r"(?<![\d+])(?:(?:\+|00)86[\s-]?)?(?:\(0\d{2,3}\)|0\d{2,3})[\s-]?\d{3,4}[\s-]?\d{4}"
        r"(?:\s*(?:-|转|ext\.?)\s*\d{1,6})?(?!\d)"
    )),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scrubbed:
    text: str
    found: tuple[str, ...]  # the kinds taken out, e.g. ("[手机号]", "[身份证号]")

    @property
    def changed(self) -> bool:
        return bool(self.found)


def scrub(text: str) -> Scrubbed:
    """The text with phone numbers, ID numbers and e-mail addresses replaced by a marker
    of their kind; full-width digits (１３９…) are read as digits."""
    probe = text.translate(_FULLWIDTH)
    found: list[str] = []
    for marker, pattern in _PATTERNS:
        spans = [m.span() for m in pattern.finditer(probe)]
        for start, end in reversed(spans):
            text = text[:start] + marker + text[end:]
            probe = probe[:start] + marker + probe[end:]
            found.append(marker)
    return Scrubbed(text, tuple(found))
