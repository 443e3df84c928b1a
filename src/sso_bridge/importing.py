"""Bulk import of local accounts from CSV.

The file has a header row naming the columns of :data:`COLUMNS`, in any order. A file is
imported whole or not at all: any bad row rejects the file, unless ``skip_invalid`` is
set, in which case the good rows are imported and the bad ones reported.

The file is cut into blocks at record boundaries. Blocks are checked, normalised and
hashed in worker processes while this process writes the rows, all inside one
transaction of the store; the rules that span the whole file (an account id given twice,
an organisation named two ways, an organisation that is never named) are applied here.
"""

from __future__ import annotations

import csv
import gc
import io
import marshal
import multiprocessing
import operator
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import BinaryIO

import attrs

from sso_bridge.errors import ImportRejected, InvalidInput, RowError
from sso_bridge.matching.keys import BlindIndex, date_number, name_key
from sso_bridge.matching.normalize import normalize_name, parse_date, parse_passport, parse_snils
from sso_bridge.model import AccountStatus, Organization
from sso_bridge.store.base import AccountDirectory, AccountRow, BulkImport, ProgressCallback

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
_REQUIRED = ("account_id", "org_id", "last_name", "first_name")
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
_LIMITED = tuple(COLUMNS.index(name) for name in MAX_LENGTHS)
_SHORTEST_LIMIT = min(MAX_LENGTHS.values())
_STATUSES = {s.value: s.value for s in AccountStatus} | {"": AccountStatus.ACTIVE.value}
_BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 1 << 20
"""Size of the blocks a file is checked in."""
PARALLEL_MIN_BYTES = 4 << 20
"""Files from this size on are checked in worker processes."""
MAX_WORKERS = 8
"""By default a large file is checked by one worker process per core, up to this many."""


@attrs.frozen
class ImportReport:
    source: str
    imported: int
    skipped: tuple[RowError, ...]
    warnings: tuple[RowError, ...]


# -- cutting the file -----------------------------------------------------------------------


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


def _blocks(handle: BinaryIO, head: bytes, block_bytes: int) -> Iterator[bytes]:
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


def _read_header(handle: BinaryIO, source: str) -> tuple[list[str], bytes, int]:
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
        raise InvalidInput(
            f"{source}:1: the file is not UTF-8", code="import.bad_encoding"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(f"{source}:1: unreadable CSV: {exc}", code="import.bad_csv") from None
    if not records:
        raise InvalidInput(f"{source}: the file is empty", code="import.bad_header")
    return records[0], rest, head.count(b"\n") or 1


def _column_positions(header: list[str], source: str) -> tuple[int, ...]:
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
        raise InvalidInput(f"{source}:1: bad header: {'; '.join(parts)}", code="import.bad_header")
    return tuple(names.index(name) for name in COLUMNS)


# -- checking a block (runs in worker processes) ----------------------------------------------


@attrs.frozen
class _Job:
    source: str
    first_line: int
    data: bytes
    positions: tuple[int, ...]
    index: BlindIndex
    today: int


@attrs.frozen
class _Checked:
    """A checked block: good rows (with their lines), bad rows, warnings, org names."""

    rows: bytes  # the good rows as a marshalled list: far cheaper to pass than pickle
    lines: list[int]
    named: list[bool]  # whether the row gave its organisation's name
    errors: list[RowError]
    warnings: list[RowError]
    org_names: dict[str, tuple[str, int]]
    size: int


def _check_block(job: _Job) -> _Checked:
    # A block makes hundreds of thousands of tuples and lists but no reference cycles:
    # without the collector's passes over them the check is about a third faster.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_block_unguarded(job)
    finally:
        if enabled:
            gc.enable()


def _check_block_unguarded(job: _Job) -> _Checked:
    try:
        text = job.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = job.first_line + job.data.count(b"\n", 0, exc.start)
        raise InvalidInput(
            f"{job.source}:{line}: the file is not UTF-8", code="import.bad_encoding"
        ) from None
    if len(_BIRTHS) + len(_NAMES) > _CACHE_LIMIT:
        _BIRTHS.clear()
        _NAMES.clear()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    checker = _RowChecker(job)
    start = job.first_line
    try:
        for record in reader:
            checker.check(start, record)
            start = job.first_line + reader.line_num
    except csv.Error as exc:
        raise InvalidInput(
            f"{job.source}:{start}: unreadable CSV: {exc}", code="import.bad_csv"
        ) from None
    # In account-id order the primary-key B-tree is updated with far better locality.
    rows = checker.rows
    order = sorted(range(len(rows)), key=[row[0] for row in rows].__getitem__)
    return _Checked(
        # Version 2 writes no back-references: v3+ hashes every string and tuple that is
        # still referenced elsewhere (all of them here), which made this five times slower.
        marshal.dumps([rows[i] for i in order], 2),
        [checker.lines[i] for i in order],
        [checker.named[i] for i in order],
        checker.errors,
        checker.warnings,
        checker.org_names,
        len(job.data),
    )


def _clean_roles(roles: str) -> str:
    if " " in roles or ";;" in roles or roles.startswith(";") or roles.endswith(";"):
        return ";".join(r for r in (x.strip() for x in roles.split(";")) if r)
    return roles


# Birth dates and names repeat a great deal in a region; each is parsed once per process.
_BIRTHS: dict[str, int] = {}
_NAMES: dict[str, str] = {}
_CACHE_LIMIT = 200_000


class _RowChecker:
    def __init__(self, job: _Job) -> None:
        self.source = job.source
        self.today = job.today
        self.positions = job.positions
        self.width = len(job.positions)
        self.pick = operator.itemgetter(*job.positions)
        self.index = job.index
        self.rows: list[AccountRow] = []
        self.lines: list[int] = []
        self.named: list[bool] = []
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.org_names: dict[str, tuple[str, int]] = {}
        self.seen: dict[str, int] = {}

    def check(self, line: int, record: list[str]) -> None:
        if len(record) != self.width:
            if record and (len(record) > 1 or record[0].strip()):
                self.errors.append(
                    RowError(self.source, line, f"expected {self.width} cells, found {len(record)}")
                )
            return
        (
            account_id,
            org_id,
            org_name,
            login,
            roles,
            last,
            first,
            middle,
            birth_text,
            snils_text,
            passport_text,
            status_text,
        ) = cells = self.pick(list(map(str.strip, record)))
        reasons: list[str] = []
        if max(map(len, cells)) > _SHORTEST_LIMIT:
            for name, i in zip(MAX_LENGTHS, _LIMITED, strict=True):
                if len(cells[i]) > MAX_LENGTHS[name]:
                    reasons.append(f"{name} is longer than {MAX_LENGTHS[name]} characters")
        if not (account_id and org_id and last and first):
            required = (account_id, org_id, last, first)
            reasons.extend(
                f"{c} is empty" for c, v in zip(_REQUIRED, required, strict=True) if not v
            )
        if account_id in self.seen:
            reasons.append(f"account_id {account_id!r} repeats line {self.seen[account_id]}")
        if org_name:
            first_name, first_line = self.org_names.setdefault(org_id, (org_name, line))
            if first_name != org_name:
                reasons.append(
                    f"organisation {org_id!r} is named {first_name!r} on line {first_line}"
                )
        birth, snils, passport, warning = self._keys(birth_text, snils_text, passport_text, reasons)
        status = _STATUSES.get(status_text) or _STATUSES.get(status_text.lower())
        if status is None:
            reasons.append(f"status {status_text!r} is not active or blocked")
        if reasons or status is None:
            self.errors.append(RowError(self.source, line, "; ".join(reasons)))
            return
        self.seen[account_id] = line
        roles = _clean_roles(roles)
        key = None
        if birth is not None:
            names = _NAMES
            last_key = names.get(last)
            if last_key is None:
                last_key = names[last] = normalize_name(last)
            first_key = names.get(first)
            if first_key is None:
                first_key = names[first] = normalize_name(first)
            key = name_key(last_key, first_key, birth)
        self.rows.append(
            (
                account_id,
                org_id,
                login or None,
                roles,
                last,
                first,
                middle or None,
                birth,
                key,
                snils,
                passport,
                status,
            )
        )
        self.lines.append(line)
        self.named.append(bool(org_name))
        if warning:
            self.warnings.append(RowError(self.source, line, warning))

    def _keys(
        self, birth_text: str, snils_text: str, passport_text: str, reasons: list[str]
    ) -> tuple[int | None, bytes | None, bytes | None, str | None]:
        """Birth date as YYYYMMDD and the hashed SNILS and passport; problems to ``reasons``."""
        birth = None
        if birth_text:
            birth = _BIRTHS.get(birth_text)
            if birth is None:
                try:
                    birth = _BIRTHS[birth_text] = date_number(parse_date(birth_text))
                except InvalidInput:
                    reasons.append(f"birth_date {birth_text!r} is not YYYY-MM-DD or DD.MM.YYYY")
            if birth is not None and birth > self.today:
                reasons.append("birth_date is in the future")
        snils = passport = None
        warning = None
        if snils_text:
            try:
                snils = self.index.snils(parse_snils(snils_text))
            except InvalidInput as exc:
                if exc.code == "snils.checksum":
                    warning = "SNILS check digits are wrong; stored as absent"
                else:
                    reasons.append("snils is not 11 digits")
        if passport_text:
            try:
                passport = self.index.passport(parse_passport(passport_text))
            except InvalidInput:
                reasons.append("passport is not a 4-digit series and a 6-digit number")
        return birth, snils, passport, warning


def _checked_blocks(jobs: Iterator[_Job], workers: int) -> Iterator[_Checked]:
    if workers <= 0:
        for job in jobs:
            yield _check_block(job)
        return
    if sys.platform == "linux":
        # Fork: instant, and no re-import of the caller's main module. The children never
        # touch the parent's database connections, and freezing the inherited heap first
        # keeps their garbage collector from finalising any of them.
        context = multiprocessing.get_context("fork")
        initializer = gc.freeze
    else:
        context, initializer = multiprocessing.get_context("spawn"), None
    with ProcessPoolExecutor(workers, context, initializer) as pool:
        window: deque[Future[_Checked]] = deque()
        try:
            for job in jobs:
                window.append(pool.submit(_check_block, job))
                if len(window) > 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


# -- merging blocks and writing (this process) ------------------------------------------------


class _Merger:
    """Applies the file-wide rules to checked blocks and writes the good rows."""

    def __init__(self, source: str, writer: BulkImport, skip_invalid: bool) -> None:
        self.source = source
        self.writer = writer
        self.skip_invalid = skip_invalid
        self.seen: dict[str, int] = {}
        self.org_names: dict[str, tuple[str, int]] = {}
        self.pending: dict[str, list[tuple[int, AccountRow]]] = {}
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.imported = 0

    def add(self, block: _Checked) -> None:
        self.errors.extend(block.errors)
        self.warnings.extend(block.warnings)
        renamed = self._add_org_names(block)
        rows: list[AccountRow] = marshal.loads(block.rows)  # noqa: S302 - made by _check_block
        lines = block.lines
        ids = [r[0] for r in rows]
        repeated = self.seen.keys() & set(ids) if self.seen else set()
        if repeated or renamed:
            rows, lines = self._drop_bad(rows, block, repeated, renamed)
            self.seen.update((r[0], line) for r, line in zip(rows, lines, strict=True))
        else:
            self.seen.update(zip(ids, lines, strict=True))
        unknown = {org for org in {r[1] for r in rows} if not self._org_known(org)}
        if unknown:
            kept: list[AccountRow] = []
            for row, line in zip(rows, lines, strict=True):
                if row[1] in unknown:
                    self.pending.setdefault(row[1], []).append((line, row))
                else:
                    kept.append(row)
            rows = kept
        self._write(rows)

    def _add_org_names(self, block: _Checked) -> dict[str, str]:
        """Store the organisations this block names first; return those it names otherwise."""
        new: list[Organization] = []
        renamed: dict[str, str] = {}
        for org_id, (name, line) in block.org_names.items():
            first_name, first_line = self.org_names.setdefault(org_id, (name, line))
            if first_name != name:
                renamed[org_id] = (
                    f"organisation {org_id!r} is named {first_name!r} on line {first_line}"
                )
            elif first_line == line:
                new.append(Organization(org_id, name))
        self.writer.add_organizations(new)
        for org in new:
            self._write([row for _, row in self.pending.pop(org.org_id, [])])
        return renamed

    def _drop_bad(
        self,
        block_rows: list[AccountRow],
        block: _Checked,
        repeated: set[str],
        renamed: dict[str, str],
    ) -> tuple[list[AccountRow], list[int]]:
        rows: list[AccountRow] = []
        lines: list[int] = []
        for row, line, named in zip(block_rows, block.lines, block.named, strict=True):
            reasons = []
            if row[0] in repeated:
                reasons.append(f"account_id {row[0]!r} repeats line {self.seen[row[0]]}")
            if named and row[1] in renamed:
                reasons.append(renamed[row[1]])
            if reasons:
                self.errors.append(RowError(self.source, line, "; ".join(reasons)))
            else:
                rows.append(row)
                lines.append(line)
        return rows, lines

    def _org_known(self, org_id: str) -> bool:
        return org_id in self.org_names or self.writer.has_organization(org_id)

    def _write(self, rows: list[AccountRow]) -> None:
        # After the first bad row nothing more is written: the import will be rolled back.
        if rows and (self.skip_invalid or not self.errors):
            self.writer.add_rows(rows)
            self.imported += len(rows)

    def finish(self) -> ImportReport:
        for org_id, waiting in sorted(self.pending.items()):
            self.errors.append(
                RowError(
                    self.source,
                    min(line for line, _ in waiting),
                    f"organisation {org_id!r} is new and has no org_name; its rows are bad",
                )
            )
        errors = tuple(sorted(self.errors, key=lambda e: e.line))
        if errors and not self.skip_invalid:
            raise ImportRejected(errors)
        return ImportReport(self.source, self.imported, errors, tuple(self.warnings))


def import_accounts_csv(
    directory: AccountDirectory,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import one CSV file of accounts (UTF-8, BOM allowed) in one transaction.

    Raises :class:`~sso_bridge.errors.ImportRejected`, having written nothing, when a row
    is bad and ``skip_invalid`` is false. ``progress`` is called with the number of bytes
    of the file done since its last call. ``workers`` sets the number of checking
    processes (0: check in this process); by default large files use one per core,
    up to :data:`MAX_WORKERS`.
    """
    reports = import_accounts_files(
        directory, [path], skip_invalid=skip_invalid, progress=progress, workers=workers
    )
    return reports[0]


def import_accounts_files(
    directory: AccountDirectory,
    paths: Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> list[ImportReport]:
    """Import several CSV files in ONE transaction: a file that is refused (a bad row
    without ``skip_invalid``, or a file that is unusable as a whole) writes nothing of
    any file. Otherwise as :func:`import_accounts_csv`, one report per file."""
    with ExitStack() as stack:
        handles: list[tuple[str, BinaryIO]] = []
        for path in paths:
            try:
                handles.append((str(path), stack.enter_context(Path(path).open("rb"))))
            except OSError as exc:
                raise InvalidInput(f"{path}: {exc.strerror}", code="import.unreadable") from None
        sizes = [os.fstat(h.fileno()).st_size for _, h in handles]
        with directory.bulk_import(expected_rows=sum(sizes) // 80) as writer:
            return [
                _import_one(directory, writer, name, handle, size, skip_invalid, progress, workers)
                for (name, handle), size in zip(handles, sizes, strict=True)
            ]


def _import_one(
    directory: AccountDirectory,
    writer: BulkImport,
    source: str,
    handle: BinaryIO,
    size: int,
    skip_invalid: bool,
    progress: ProgressCallback | None,
    workers: int | None,
) -> ImportReport:
    header, rest, header_lines = _read_header(handle, source)
    positions = _column_positions(header, source)
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 0
    today = date_number(date.today())
    index = directory.blind_index

    def jobs() -> Iterator[_Job]:
        line = header_lines + 1
        for data in _blocks(handle, rest, BLOCK_BYTES):
            yield _Job(source, line, data, positions, index, today)
            line += data.count(b"\n")

    if progress is not None:
        progress(handle.tell() - len(rest))
    merger = _Merger(source, writer, skip_invalid)
    for block in _checked_blocks(jobs(), workers):
        merger.add(block)
        if progress is not None:
            progress(block.size)
    return merger.finish()
