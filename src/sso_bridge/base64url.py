"""base64url without padding (RFC 4648 §5, as JOSE and PKCE use it): one encoder, one
strict decoder."""

from __future__ import annotations

import base64
import binascii
from typing import Final

from sso_bridge.errors import InvalidInput

__all__ = ["decode", "encode"]

_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_PADDING: Final = (b"", b"", b"==", b"=")


def encode(data: bytes) -> str:
    """``data`` in base64url, unpadded."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str | bytes) -> bytes:
    """The bytes of unpadded (or correctly padded) base64url ``text``.

    Strict, unlike ``base64.urlsafe_b64decode``: any character outside the alphabet, or a
    length no encoding produces, is ``input.bad_base64url``.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if raw.endswith(b"="):
        raw = raw.rstrip(b"=")
    # "+" and "/" would pass the strict decoder below: they are standard base64's letters.
    if len(raw) % 4 == 1 or b"+" in raw or b"/" in raw:
        raise InvalidInput("not base64url", code="input.bad_base64url")
    try:
        return binascii.a2b_base64(
            raw.translate(_TO_STANDARD) + _PADDING[len(raw) % 4], strict_mode=True
        )
    except binascii.Error:
        raise InvalidInput("not base64url", code="input.bad_base64url") from None
