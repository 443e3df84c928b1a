"""Just enough DER (X.690) to read and write GOST keys and certificates.

Writers return complete TLVs; :func:`read` splits one TLV and :func:`children` the contents
of a constructed one. Anything indefinite, truncated or trailing raises ``ValueError``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = [
    "BIT_STRING",
    "INTEGER",
    "NULL",
    "OCTET_STRING",
    "OID",
    "SEQUENCE",
    "SET",
    "bit_string",
    "children",
    "integer",
    "oid",
    "oid_text",
    "read",
    "read_integer",
    "time",
    "tlv",
]

INTEGER: Final = 0x02
BIT_STRING: Final = 0x03
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OID: Final = 0x06
SEQUENCE: Final = 0x30
SET: Final = 0x31
_UTC_TIME: Final = 0x17
_GENERALIZED_TIME: Final = 0x18


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def integer(value: int) -> bytes:
    """A DER INTEGER (two's complement, minimal length)."""
    size = value.bit_length() // 8 + 1 if value >= 0 else (value + 1).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk, rest = [arc & 0x7F], arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def bit_string(data: bytes) -> bytes:
    """A DER BIT STRING of whole bytes."""
    return tlv(BIT_STRING, b"\x00" + data)


def time(moment: datetime) -> bytes:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5)."""
    m = moment.astimezone(UTC)
    if m.year < 2050:
        return tlv(_UTC_TIME, m.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(_GENERALIZED_TIME, m.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def read(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """The element at ``offset``: ``(tag, content, offset after it)``."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not supported")
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, data[start:end], end


def children(content: bytes) -> list[tuple[int, bytes]]:
    """The ``(tag, content)`` elements that make up ``content``, in order."""
    items: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(content):
        tag, body, offset = read(content, offset)
        items.append((tag, body))
    return items


def read_integer(content: bytes) -> int:
    """The value of an INTEGER's content."""
    if not content:
        raise ValueError("empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


_MAX_OID_BYTES: Final = 64  # the longest OID this library knows has 9 bytes


def oid_text(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content (at most 64 bytes: longer ones
    are no OID anything here knows, and their arcs would be numbers of any size)."""
    if not content or content[-1] & 0x80 or len(content) > _MAX_OID_BYTES:
        raise ValueError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])
