"""base64url without padding (RFC 4648 §5, as JOSE and PKCE use it): one encoder, one
strict decoder."""

from __future__ import annotations

import base64
import binascii
from typing import Final

from sso_bridge.errors import InvalidInput

__all__ = ["decode", "encode"]

_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


def encode(data: bytes) -> str:
    """``data`` in base64url, unpadded."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str | bytes) -> bytes:
    """The bytes of unpadded (or correctly padded) base64url ``text``.

    Strict, unlike ``base64.urlsafe_b64decode``: any character outside the alphabet, or a
    length no encoding produces, is ``input.bad_base64url``.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    raw = raw.rstrip(b"=") if raw.endswith(b"=") else raw
    if len(raw) % 4 == 1:
        raise InvalidInput("not base64url: impossible length", code="input.bad_base64url")
    padded = raw.translate(_TO_STANDARD) + b"=" * (-len(raw) % 4)
    if b"+" in raw or b"/" in raw:
        raise InvalidInput("not base64url: standard base64 letters", code="input.bad_base64url")
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        raise InvalidInput("not base64url", code="input.bad_base64url") from None
