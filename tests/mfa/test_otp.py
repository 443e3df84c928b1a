"""HOTP and TOTP against every published test vector, and the secrets' text form."""

from __future__ import annotations

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.mfa.otp import (
    decode_secret,
    encode_secret,
    hotp,
    new_secret,
    totp,
    totp_match,
)

# RFC 4226 appendix D
HOTP_KEY = b"12345678901234567890"
HOTP_VECTORS = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

# RFC 6238 appendix B: each algorithm with the seed of its own output size
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
TOTP_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("counter", "code"), list(enumerate(HOTP_VECTORS)))
def test_hotp_rfc4226_appendix_d(counter: int, code: str) -> None:
    assert hotp(HOTP_KEY, counter) == code


@pytest.mark.parametrize(
    ("at", "algorithm", "code"),
    [
        (at, algorithm, codes[i])
        for at, *codes in TOTP_VECTORS
        for i, algorithm in enumerate(("sha1", "sha256", "sha512"))
    ],
)
def test_totp_rfc6238_appendix_b(at: int, algorithm: str, code: str) -> None:
    assert totp(SEEDS[algorithm], at, digits=8, algorithm=algorithm) == code
    assert totp(SEEDS[algorithm], at, digits=8, step=30, algorithm=algorithm.upper()) == code


def test_six_digits_are_the_last_six_of_eight() -> None:
    assert totp(SEEDS["sha1"], 59) == "287082"
    assert hotp(HOTP_KEY, 1, digits=8).endswith("287082")


@pytest.mark.parametrize("digits", [0, 4, 5, 7, 9, 10])
def test_other_code_lengths_are_refused(digits: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        hotp(HOTP_KEY, 0, digits)
    assert exc.value.code == "otp.bad_digits"


def test_unknown_algorithm_counter_and_step_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        hotp(HOTP_KEY, 0, algorithm="md5")
    assert exc.value.code == "otp.bad_algorithm"
    with pytest.raises(InvalidInput) as exc:
        hotp(HOTP_KEY, -1)
    assert exc.value.code == "otp.bad_counter"
    with pytest.raises(InvalidInput) as exc:
        hotp(HOTP_KEY, 2**64)
    assert exc.value.code == "otp.bad_counter"
    assert hotp(HOTP_KEY, 2**64 - 1)  # the largest counter is fine
    with pytest.raises(InvalidInput) as exc:
        totp(HOTP_KEY, 59, step=0)
    assert exc.value.code == "otp.bad_step"


def test_match_within_one_step_either_side() -> None:
    at = 1111111109
    step = at // 30
    code = totp(HOTP_KEY, at)
    assert totp_match(HOTP_KEY, code, at) == step
    assert totp_match(HOTP_KEY, code, at + 30) == step  # the code is one step old
    assert totp_match(HOTP_KEY, code, at - 30) == step  # the client clock runs ahead
    assert totp_match(HOTP_KEY, code, at + 60) is None
    assert totp_match(HOTP_KEY, code, at - 60) is None
    assert totp_match(HOTP_KEY, code, at + 60, window=2) == step
    assert totp_match(HOTP_KEY, code, at + 30, window=0) is None


def test_match_with_other_algorithms_and_lengths() -> None:
    key = SEEDS["sha512"]
    assert totp_match(key, "38618901", 2000000000, digits=8, algorithm="sha512") == (
        2000000000 // 30
    )
    assert totp_match(key, "38618901", 2000000000, digits=8) is None  # sha1 by default


@pytest.mark.parametrize("code", ["", "28708", "2870820", "28708a", "２８７０８２", " 287082"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp(HOTP_KEY, 59) == "287082"
    assert totp_match(HOTP_KEY, code, 59) is None


def test_match_checks_every_step_of_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from sso_bridge.mfa import otp  # noqa: PLC0415 - the module is patched

    seen: list[int] = []
    real = otp.hotp

    def spy(key: bytes, counter: int, digits: int = 6, algorithm: str = "sha1") -> str:
        seen.append(counter)
        return real(key, counter, digits, algorithm)

    monkeypatch.setattr(otp, "hotp", spy)
    at = 1234567890
    assert otp.totp_match(HOTP_KEY, real(HOTP_KEY, at // 30 - 1), at) == at // 30 - 1
    assert seen == [at // 30 - 1, at // 30, at // 30 + 1]  # no early return on a match


def test_secret_text_form() -> None:
    assert decode_secret("gezd gnbv gy3t qojq") == b"1234567890"
    assert decode_secret("GEZDGNBVGY3TQOJQ====") == b"1234567890"
    assert encode_secret(b"1234567890") == "GEZDGNBVGY3TQOJQ"
    for bad in ("not base32!", "", "   "):
        with pytest.raises(InvalidInput) as exc:
            decode_secret(bad)
        assert exc.value.code == "otp.bad_secret"


@pytest.mark.parametrize(("algorithm", "size"), [("sha1", 20), ("sha256", 32), ("sha512", 64)])
def test_new_secrets_fit_their_algorithm(algorithm: str, size: int) -> None:
    first, second = new_secret(algorithm), new_secret(algorithm)
    assert len(first) == len(second) == size
    assert first != second
    assert decode_secret(encode_secret(first)) == first
