from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.otp import decode_secret, hotp, totp, totp_match

# RFC 4226 appendix D and RFC 6238 appendix B (SHA-1), key "12345678901234567890"
KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("counter", "code"),
    [(0, "755224"), (1, "287082"), (2, "359152"), (3, "969429"), (9, "520489")],
)
def test_hotp_rfc4226_vectors(counter: int, code: str) -> None:
    assert hotp(KEY, counter) == code


@pytest.mark.parametrize(
    ("unix", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_totp_rfc6238_vectors(unix: int, code: str) -> None:
    assert totp(KEY, datetime.fromtimestamp(unix, UTC), digits=8) == code


def test_window_of_one_step() -> None:
    moment = datetime.fromtimestamp(1111111109, UTC)
    code = totp(KEY, moment)
    step = int(moment.timestamp()) // 30
    assert totp_match(KEY, code, moment) == step
    assert totp_match(KEY, code, datetime.fromtimestamp(1111111109 + 30, UTC)) == step
    assert totp_match(KEY, code, datetime.fromtimestamp(1111111109 + 61, UTC)) is None


def test_secret_decoding() -> None:
    assert decode_secret("gezd gnbv gy3t qojq") == b"1234567890"
    with pytest.raises(InvalidInput):
        decode_secret("not base32!")
