"""Signed records: what the signature covers, its age, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from yiwang.common.signatures import SignatureRefused, signature_headers, verify

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SECRETS = {"civil-affairs": {"2026-11": "old-secret", "2026-12": "new-secret"}}


def headers(**changes: object) -> dict[str, str]:
    args = {"signer": "civil-affairs", "key_id": "2026-12", "secret": "new-secret",
            "value": b'{"kind":"resolve"}', "key": b"case-1", "ce_id": "e-1", "at": NOW}  # fmt: skip
    args.update(changes)
    return {k: v.decode() for k, v in signature_headers(**args)}  # type: ignore[arg-type]


def check(found: dict[str, str], *, value: bytes = b'{"kind":"resolve"}', key: bytes = b"case-1",
          ce_id: str = "e-1", now: datetime = NOW) -> str:  # fmt: skip
    return verify(found, value=value, key=key, ce_id=ce_id, now=now,
                  secrets_of=lambda s: SECRETS.get(s, {})).signer  # fmt: skip


def refused(found: dict[str, str], **kwargs: object) -> str:
    with pytest.raises(SignatureRefused) as caught:
        check(found, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


def test_a_signed_record_names_its_signer() -> None:
    assert check(headers()) == "civil-affairs"


def test_the_old_secret_still_signs_during_the_overlap() -> None:
    assert check(headers(key_id="2026-11", secret="old-secret")) == "civil-affairs"


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"value": b'{"kind":"return"}'}, "bad_signature"), ({"key": b"case-2"}, "bad_signature"),
     ({"ce_id": "e-2"}, "bad_signature")],
)  # fmt: skip
def test_the_signature_covers_value_key_and_id(change: dict[str, object], reason: str) -> None:
    assert refused(headers(), **change) == reason


def test_old_future_unsigned_and_unknown_keys_are_refused() -> None:
    assert refused(headers(at=NOW - timedelta(minutes=6))) == "stale"
    assert refused(headers(at=NOW + timedelta(minutes=5))) == "from_the_future"
    assert refused({}) == "unsigned"
    assert refused(headers(key_id="2025-01", secret="x")) == "unknown_key"
    assert refused(headers(signer="housing")) == "unknown_key"
    tampered = headers()
    tampered["yiwang-signed-at"] = (NOW + timedelta(seconds=1)).isoformat()
    assert refused(tampered) == "bad_signature"
