"""Parties' personal data sealed at rest with AES-256-GCM (as intake does); key from the env."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class PiiKeyInvalid(ValueError):
    pass


class PersonalDataVault:
    def __init__(self, key_b64: str) -> None:
        try:
            key = base64.b64decode(key_b64, validate=True)
        except (binascii.Error, ValueError):
            raise PiiKeyInvalid("MEDIATION_PII_KEY must be base64 of 32 random bytes") from None
        if len(key) != 32:
            raise PiiKeyInvalid(f"MEDIATION_PII_KEY must decode to 32 bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str | None, *, context: bytes) -> bytes | None:
        """Encrypt; `context` (the party id) is bound in, so a value cannot be moved."""
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def open(self, sealed: bytes | None, *, context: bytes) -> str | None:
        if sealed is None:
            return None
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context).decode()
