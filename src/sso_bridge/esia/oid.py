"""ESIA's object ids (``oid``): people and organisations are numbered from 1 to 2**63 - 1."""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_OID", "oid_text"]

MAX_OID: Final = 2**63 - 1
"""The largest oid (a signed 64-bit number)."""


def oid_text(value: object) -> str | None:
    """``value`` as an oid's decimal text, when it is one: a JSON number from 1 to
    :data:`MAX_OID`, or its ASCII digits without sign or leading zero; else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_OID:
        return str(value)
    if (
        isinstance(value, str)
        and 0 < len(value) <= 19
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
        and int(value) <= MAX_OID
    ):
        return value
    return None
