"""base64url without padding (RFC 4648 §5, as JOSE and PKCE use it): one encoder, one
strict decoder."""

from __future__ import annotations

import binascii
from typing import Final

from sso_bridge.errors import InvalidInput

__all__ = ["decode", "encode"]

# "+" and "/" are standard base64's letters, not base64url's: they become "*", which the
# strict decoder refuses, so one pass over the text translates and screens it.
_TO_STANDARD: Final = bytes.maketrans(b"-_+/", b"+/**")
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_PADDING: Final = (b"", b"", b"==", b"=")


def encode(data: bytes) -> str:
    """``data`` in base64url, unpadded."""
    encoded = binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE)
    return encoded.rstrip(b"=").decode("ascii")


def decode(text: str | bytes) -> bytes:
    """The bytes of unpadded (or correctly padded) base64url ``text``.

    Strict, unlike ``base64.urlsafe_b64decode``: any character outside the alphabet, or a
    length no encoding produces, is ``input.bad_base64url``.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if raw.endswith(b"="):
        raw = raw.rstrip(b"=")
    if len(raw) % 4 == 1:
        raise InvalidInput("not base64url", code="input.bad_base64url")
    try:
        return binascii.a2b_base64(
            raw.translate(_TO_STANDARD) + _PADDING[len(raw) % 4], strict_mode=True
        )
    except binascii.Error:
        raise InvalidInput("not base64url", code="input.bad_base64url") from None
