"""The blind index is HMAC-SHA256 truncated to 128 bits, whatever the key length."""

from __future__ import annotations

import hmac
import pickle

import pytest

from sso_bridge.matching.keys import HASH_BYTES, BlindIndex


@pytest.mark.parametrize("length", [32, 63, 64, 65, 200])
def test_hashes_are_hmac_sha256(length: int) -> None:
    key = bytes((i * 7 + length) % 256 for i in range(length))
    index = BlindIndex(key)
    for digits in ("11223344595", "00000000000", "4506123456"):
        for prefix, method in ((b"snils:", index.snils), (b"passport:", index.passport)):
            expected = hmac.digest(key, prefix + digits.encode(), "sha256")[:HASH_BYTES]
            assert method(digits) == expected


def test_repeated_hashes_do_not_share_state() -> None:
    index = BlindIndex(b"k" * 32)
    first = index.snils("11223344595")
    index.snils("99999999999")
    assert index.snils("11223344595") == first


def test_survives_pickling_for_worker_processes() -> None:
    index = BlindIndex(bytes(range(32)))
    copy = pickle.loads(pickle.dumps(index))  # noqa: S301 - our own bytes
    assert copy.key_id == index.key_id
    assert copy.snils("11223344595") == index.snils("11223344595")
