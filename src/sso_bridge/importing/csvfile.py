"""The CSV file of accounts: its columns, its header, and its cutting into blocks of whole
records (a newline inside a quoted field does not end a record)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from sso_bridge.importing.errors import ImportFileError

__all__ = ["BLOCK_BYTES", "COLUMNS", "MAX_LENGTHS", "blocks", "column_positions", "read_header"]

COLUMNS = (
    "account_id",
    "org_id",
    "org_name",
    "login",
    "roles",
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "snils",
    "passport",
    "status",
)
MAX_LENGTHS = {
    "account_id": 128,
    "org_id": 128,
    "org_name": 200,
    "login": 256,
    "roles": 512,
    "last_name": 200,
    "first_name": 200,
    "middle_name": 200,
}
"""The longest value, in characters, of each text column (the same on every backend)."""
_BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 1 << 20
"""Size of the blocks a file is checked in."""


def _record_end(data: bytes, start: int = 0) -> int:
    """Index of the first newline at or after ``start`` that ends a record, or -1.

    A newline ends a record when an even number of quote characters stands before it
    (doubled quotes inside a quoted field keep the parity).
    """
    quotes = data.count(b'"', 0, start)
    pos = data.find(b"\n", start)
    while pos >= 0:
        quotes += data.count(b'"', start, pos)
        if quotes % 2 == 0:
            return pos
        start = pos
        pos = data.find(b"\n", pos + 1)
    return -1


def _last_record_end(data: bytes) -> int:
    """Index of the last newline in ``data`` that ends a record, or -1."""
    after = 0
    total = data.count(b'"')
    end = len(data)
    pos = data.rfind(b"\n")
    while pos >= 0:
        after += data.count(b'"', pos, end)
        if (total - after) % 2 == 0:
            return pos
        end = pos
        pos = data.rfind(b"\n", 0, pos)
    return -1


def blocks(handle: BinaryIO, head: bytes, block_bytes: int) -> Iterator[bytes]:
    """The rest of the file as blocks of whole records."""
    carry = head
    while True:
        more = handle.read(block_bytes)
        data = carry + more if carry else more
        if not more:
            if data:
                yield data
            return
        cut = _last_record_end(data)
        if cut < 0:
            carry = data
            continue
        yield data[: cut + 1]
        carry = data[cut + 1 :]


def read_header(handle: BinaryIO, source: str) -> tuple[list[str], bytes, int]:
    """The header record, the bytes after it, and the number of lines it took."""
    data = handle.read(BLOCK_BYTES)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    end = _record_end(data)
    while end < 0:
        more = handle.read(BLOCK_BYTES)
        if not more:
            end = len(data)
            break
        data += more
        end = _record_end(data)
    head, rest = data[: end + 1], data[end + 1 :]
    try:
        records = list(csv.reader(io.StringIO(head.decode("utf-8"), newline=""), strict=True))
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{source}:1: the file is not UTF-8", code="import.bad_encoding"
        ) from None
    except csv.Error as exc:
        raise ImportFileError(f"{source}:1: unreadable CSV: {exc}", code="import.bad_csv") from None
    if not records:
        raise ImportFileError(f"{source}: the file is empty", code="import.bad_header")
    return records[0], rest, head.count(b"\n") or 1


def column_positions(header: list[str], source: str) -> tuple[int, ...]:
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    repeated = len(set(names)) != len(names)
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append("unknown " + ", ".join(unknown))
        if repeated:
            parts.append("repeated columns")
        raise ImportFileError(
            f"{source}:1: bad header: {'; '.join(parts)}", code="import.bad_header"
        )
    return tuple(names.index(name) for name in COLUMNS)
