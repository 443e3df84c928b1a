"""Checking a block of the file: each row's cells, keys and hashes (runs in worker
processes for a large file), and the pool of workers that does it in order."""

from __future__ import annotations

import csv
import gc
import io
import marshal
import multiprocessing
import operator
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import attrs

from sso_bridge.errors import InvalidInput, SnilsChecksum
from sso_bridge.importing.csvfile import COLUMNS, MAX_LENGTHS
from sso_bridge.importing.errors import ImportFileError, RowError
from sso_bridge.importing.ports import AccountRow
from sso_bridge.matching.keys import BlindIndex, date_number, name_key
from sso_bridge.matching.normalize import normalize_name, parse_date, parse_passport, parse_snils
from sso_bridge.model import AccountStatus

__all__ = ["Checked", "Job", "check_block", "checked_blocks"]

_REQUIRED = ("account_id", "org_id", "last_name", "first_name")
_LIMITED = tuple(COLUMNS.index(name) for name in MAX_LENGTHS)
_SHORTEST_LIMIT = min(MAX_LENGTHS.values())
_STATUSES = {s.value: s.value for s in AccountStatus} | {"": AccountStatus.ACTIVE.value}


@attrs.frozen
class Job:
    source: str
    first_line: int
    data: bytes
    positions: tuple[int, ...]
    index: BlindIndex
    today: int


@attrs.frozen
class Checked:
    """A checked block: good rows (with their lines), bad rows, warnings, org names."""

    rows: bytes  # the good rows as a marshalled list: far cheaper to pass than pickle
    lines: list[int]
    named: list[bool]  # whether the row gave its organisation's name
    errors: list[RowError]
    warnings: list[RowError]
    org_names: dict[str, tuple[str, int]]
    size: int


def check_block(job: Job) -> Checked:
    # A block makes hundreds of thousands of tuples and lists but no reference cycles:
    # without the collector's passes over them the check is about a third faster.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_block_unguarded(job)
    finally:
        if enabled:
            gc.enable()


def _check_block_unguarded(job: Job) -> Checked:
    try:
        text = job.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = job.first_line + job.data.count(b"\n", 0, exc.start)
        raise ImportFileError(
            f"{job.source}:{line}: the file is not UTF-8", code="import.bad_encoding"
        ) from None
    if len(_BIRTHS) + len(_NAMES) > _CACHE_LIMIT:
        _BIRTHS.clear()
        _NAMES.clear()
    if "\r" in text:
        bare = _bare_carriage_return(text)
        if bare is not None:
            line = job.first_line + text.count("\n", 0, bare)
            raise ImportFileError(
                f"{job.source}:{line}: unreadable CSV: a carriage return outside quotes that "
                "does not end a line (it would split the record in two)",
                code="import.bad_csv",
            )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    checker = _RowChecker(job)
    start = job.first_line
    try:
        for record in reader:
            checker.check(start, record)
            start = job.first_line + reader.line_num
    except csv.Error as exc:
        raise ImportFileError(
            f"{job.source}:{start}: unreadable CSV: {exc}", code="import.bad_csv"
        ) from None
    # In account-id order the primary-key B-tree is updated with far better locality.
    rows = checker.rows
    order = sorted(range(len(rows)), key=[row[0] for row in rows].__getitem__)
    return Checked(
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


def _bare_carriage_return(text: str) -> int | None:
    """Where the first carriage return outside quotes that is not part of a CRLF stands.

    Python's reader ends a record there, while the line goes on to the next line feed: an
    unquoted ``0\r0,...`` would come out as a record ``0`` and a record ``0,...`` that no
    line of the file holds. A block starts at a record's start, so an even number of
    quote characters before a position means it is outside quotes."""
    quotes, counted = 0, 0
    at = text.find("\r")
    while at >= 0:
        if not text.startswith("\n", at + 1):
            quotes += text.count('"', counted, at)
            counted = at
            if quotes % 2 == 0:
                return at
        at = text.find("\r", at + 1)
    return None


def _clean_roles(roles: str) -> str:
    if " " in roles or ";;" in roles or roles.startswith(";") or roles.endswith(";"):
        return ";".join(r for r in (x.strip() for x in roles.split(";")) if r)
    return roles


# Birth dates and names repeat a great deal in a region; each is parsed once per process.
_BIRTHS: dict[str, int] = {}
_NAMES: dict[str, str] = {}
_CACHE_LIMIT = 200_000


class _RowChecker:
    def __init__(self, job: Job) -> None:
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
            _login,
            _roles,
            last,
            first,
            _middle,
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
        self._keep(line, cells, birth, snils, passport, status, warning)

    def _keep(
        self,
        line: int,
        cells: tuple[str, ...],
        birth: int | None,
        snils: bytes | None,
        passport: bytes | None,
        status: str,
        warning: str | None,
    ) -> None:
        """Record a row that passed its checks, with its name key."""
        account_id, org_id, org_name, login, roles, last, first, middle = cells[:8]
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
            except SnilsChecksum:
                warning = "SNILS check digits are wrong; stored as absent"
            except InvalidInput:
                reasons.append("snils is not 11 digits")
        if passport_text:
            try:
                passport = self.index.passport(parse_passport(passport_text))
            except InvalidInput:
                reasons.append("passport is not a 4-digit series and a 6-digit number")
        return birth, snils, passport, warning


def checked_blocks(jobs: Iterator[Job], workers: int) -> Iterator[Checked]:
    if workers <= 0:
        for job in jobs:
            yield check_block(job)
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
        window: deque[Future[Checked]] = deque()
        try:
            for job in jobs:
                window.append(pool.submit(check_block, job))
                if len(window) > 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()
