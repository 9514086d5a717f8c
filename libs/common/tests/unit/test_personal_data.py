"""Personal data: the free-text scrubber against a corpus of how people write numbers, and
sealing under rotating keys."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from yiwang.common.personal_data import (
    FORMAT_KEYED,
    LEGACY_KEY_ID,
    PersonalDataVault,
    PiiKeyInvalid,
    mask_phone,
    scrub,
    split_sealed,
)

# (what a resident typed, what may leave the service)
CORPUS = [
    ("老板电话13912345678", "老板电话[手机号]"),
    ("老板电话139-1234-5678，身份证140302199001011234", "老板电话[手机号]，身份证[身份证号]"),
    ("请回电 139 1234 5678 谢谢", "请回电 [手机号] 谢谢"),
    ("手机+86 13912345678", "手机[手机号]"),
    ("手机+86-139-1234-5678", "手机[手机号]"),
    ("手机(+86)13912345678", "手机[手机号]"),
    ("手机0086 139 1234 5678", "手机[手机号]"),
    ("手机8613912345678", "手机[手机号]"),
    ("全角１３９１２３４５６７８", "全角[手机号]"),
    ("座机0353-1234567", "座机[电话]"),
    ("座机(0353)1234567", "座机[电话]"),
    ("北京010-12345678转123找王", "北京[电话]找王"),
    ("电话 010 1234 5678", "电话 [电话]"),
    ("身份证号14030219900101123X", "身份证号[身份证号]"),
    ("老身份证140302900101123", "老身份证[身份证号]"),
    ("邮箱 wang.li+yw@example.com.cn 联系", "邮箱 [邮箱] 联系"),
    ("两个号码13912345678和13812345678", "两个号码[手机号]和[手机号]"),
]
# What must stay: dates, amounts, addresses and counts are not personal data.
KEPT = [
    "2026年11月25日上午10点，3号楼2单元",
    "欠薪共计12000元，涉及45人",
    "门牌号 188 号，车牌晋C12345",
    "订单号2026112500001",
    "12345热线转办",
]


@pytest.mark.parametrize(("typed", "shown"), CORPUS)
def test_each_way_of_writing_a_number_is_taken_out(typed: str, shown: str) -> None:
    result = scrub(typed)
    assert result.text == shown
    assert result.changed


@pytest.mark.parametrize("text", KEPT)
def test_what_is_not_personal_data_stays(text: str) -> None:
    assert scrub(text).text == text


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_value_opens_with_the_key_that_sealed_it_after_rotation() -> None:
    old, new = key(), key()
    before = PersonalDataVault(f"k1:{old}")
    sealed = before.seal("13912345678", context=b"person-1")
    after = PersonalDataVault(f"k2:{new},k1:{old}")
    assert after.current == "k2"
    assert split_sealed(sealed or b"")[0] == "k1"
    assert after.open(sealed, context=b"person-1") == "13912345678"
    assert after.needs_reseal(sealed)
    resealed = after.reseal(sealed, context=b"person-1")
    assert split_sealed(resealed or b"")[0] == "k2"
    assert not after.needs_reseal(resealed)
    assert PersonalDataVault(f"k2:{new}").open(resealed, context=b"person-1") == "13912345678"


def test_values_sealed_before_key_ids_still_open() -> None:
    legacy = key()
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    old_style = nonce + AESGCM(base64.b64decode(legacy)).encrypt(nonce, "张三".encode(), b"p")
    vault = PersonalDataVault(f"k9:{key()},{LEGACY_KEY_ID}:{legacy}")
    assert vault.open(old_style, context=b"p") == "张三"
    assert PersonalDataVault(legacy).open(old_style, context=b"p") == "张三"


def test_a_legacy_value_whose_nonce_begins_like_a_keyed_one_still_opens() -> None:
    """One legacy value in 256 has a nonce starting with the keyed format's byte."""
    legacy = key()
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    # A key id it does not hold, one past the value's end, and one it holds (k9).
    for prefix in (bytes([FORMAT_KEYED, 2]), bytes([FORMAT_KEYED, 40]), bytes([1, 2]) + b"k9"):
        nonce = prefix + os.urandom(12 - len(prefix))
        old_style = nonce + AESGCM(base64.b64decode(legacy)).encrypt(nonce, "张三".encode(), b"p")
        assert (
            PersonalDataVault(f"k9:{key()},{LEGACY_KEY_ID}:{legacy}").open(old_style, context=b"p")
            == "张三"
        )
        assert PersonalDataVault(legacy).open(old_style, context=b"p") == "张三"


def test_a_value_moved_to_another_person_does_not_open() -> None:
    vault = PersonalDataVault(f"k1:{key()}")
    sealed = vault.seal("张三", context=b"person-1")
    with pytest.raises(InvalidTag):
        vault.open(sealed, context=b"person-2")


@pytest.mark.parametrize("raw", ["", "k1:", "bad id:abc", f"k1:{'A' * 10}"])
def test_bad_key_settings_are_refused(raw: str) -> None:
    with pytest.raises(PiiKeyInvalid):
        PersonalDataVault(raw)


def test_masking_a_phone_with_a_country_code() -> None:
    assert mask_phone("+86 139 1234 5678") == "139****5678"
