"""Bulk import of local accounts from CSV.

The file has a header row with the columns of :data:`COLUMNS` (in any order). A file is
imported whole or not at all: any bad row rejects the file unless ``skip_invalid`` is
set, in which case the good rows are imported and the bad ones reported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import attrs

from sso_bridge.errors import ImportRejected, InvalidInput, RowError
from sso_bridge.matching.normalize import parse_date, parse_passport, parse_snils
from sso_bridge.model import AccountStatus, LocalAccount, Organization
from sso_bridge.store.base import AccountDirectory, ProgressCallback

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
_STATUSES = {s.value: s for s in AccountStatus}
_STATUSES[""] = AccountStatus.ACTIVE


@attrs.frozen
class ParsedFile:
    """A CSV file read and checked, before anything is written."""

    source: str
    accounts: tuple[LocalAccount, ...]
    organizations: tuple[Organization, ...]
    errors: tuple[RowError, ...]
    warnings: tuple[RowError, ...]
    org_lines: dict[str, int] = attrs.field(factory=dict, eq=False)
    """The first line on which each organisation is used."""


@attrs.frozen
class ImportReport:
    source: str
    imported: int
    skipped: tuple[RowError, ...]
    warnings: tuple[RowError, ...]


def _records(lines: Iterable[str], source: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line number each starts on (1 = the header)."""
    reader = csv.reader(lines, strict=True)
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        # Past a broken quote nothing can be trusted, so the whole file is refused.
        raise InvalidInput(
            f"{source}:{start}: unreadable CSV: {exc}", code="import.bad_csv"
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}: the file is not UTF-8", code="import.bad_encoding") from None


def _column_positions(header: list[str], source: str) -> dict[str, int]:
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
    return {name: names.index(name) for name in COLUMNS}


class _RowChecker:
    """Turns one CSV record into an account, or the list of what is wrong with it."""

    def __init__(self, positions: dict[str, int], today: date) -> None:
        self.positions = positions
        self.today = today
        self.seen: dict[str, int] = {}
        self.org_names: dict[str, tuple[str, int]] = {}
        self.org_lines: dict[str, int] = {}

    def check(self, line: int, record: list[str]) -> tuple[LocalAccount | None, list[str], str]:
        """``(account or None, reasons, warning)``."""
        cell = {name: record[i].strip() for name, i in self.positions.items()}
        reasons = [f"{column} is empty" for column in _REQUIRED if not cell[column]]
        warning = ""
        account_id, org_id, org_name = cell["account_id"], cell["org_id"], cell["org_name"]
        if account_id in self.seen:
            reasons.append(f"account_id {account_id!r} repeats line {self.seen[account_id]}")
        if org_name:
            first_name, first_line = self.org_names.setdefault(org_id, (org_name, line))
            if first_name != org_name:
                reasons.append(
                    f"organisation {org_id!r} is named {first_name!r} on line {first_line}"
                )
        birth_date = None
        if cell["birth_date"]:
            try:
                birth_date = parse_date(cell["birth_date"])
            except InvalidInput:
                reasons.append(f"birth_date {cell['birth_date']!r} is not YYYY-MM-DD or DD.MM.YYYY")
            else:
                if birth_date > self.today:
                    reasons.append("birth_date is in the future")
        snils = None
        if cell["snils"]:
            try:
                snils = parse_snils(cell["snils"])
            except InvalidInput as exc:
                if exc.code == "snils.checksum":
                    warning = "SNILS check digits are wrong; stored as absent"
                else:
                    reasons.append("snils is not 11 digits")
        passport = None
        if cell["passport"]:
            try:
                passport = parse_passport(cell["passport"])
            except InvalidInput:
                reasons.append("passport is not a 4-digit series and a 6-digit number")
        status = _STATUSES.get(cell["status"].lower())
        if status is None:
            reasons.append(f"status {cell['status']!r} is not active or blocked")
        if reasons or status is None:
            return None, reasons, warning
        self.seen[account_id] = line
        self.org_lines.setdefault(org_id, line)
        account = LocalAccount(
            account_id=account_id,
            org_id=org_id,
            last_name=cell["last_name"],
            first_name=cell["first_name"],
            middle_name=cell["middle_name"],
            login=cell["login"],
            roles=tuple(r.strip() for r in cell["roles"].split(";") if r.strip()),
            birth_date=birth_date,
            snils=snils,
            passport=passport,
            status=status,
        )
        return account, reasons, warning


def parse_accounts_csv(text: Iterable[str], source: str, today: date | None = None) -> ParsedFile:
    """Read and check a CSV of accounts; nothing is written."""
    records = _records(text, source)
    try:
        _, header = next(records)
    except StopIteration:
        raise InvalidInput(f"{source}: the file is empty", code="import.bad_header") from None
    checker = _RowChecker(_column_positions(header, source), today or date.today())
    width = len(header)
    accounts: list[LocalAccount] = []
    errors: list[RowError] = []
    warnings: list[RowError] = []
    for line, record in records:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if len(record) != width:
            errors.append(RowError(source, line, f"expected {width} cells, found {len(record)}"))
            continue
        account, reasons, warning = checker.check(line, record)
        if account is None:
            errors.append(RowError(source, line, "; ".join(reasons)))
            continue
        accounts.append(account)
        if warning:
            warnings.append(RowError(source, line, warning))
    organizations = tuple(
        Organization(org_id, name) for org_id, (name, _) in checker.org_names.items()
    )
    return ParsedFile(
        source, tuple(accounts), organizations, tuple(errors), tuple(warnings), checker.org_lines
    )


def read_accounts_csv(path: str | Path) -> ParsedFile:
    """Read and check a CSV file of accounts (UTF-8, with or without BOM)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return parse_accounts_csv(handle, str(path))
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}", code="import.unreadable") from None


def import_accounts_csv(
    directory: AccountDirectory,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one CSV file of accounts into ``directory`` in one transaction.

    Raises :class:`~sso_bridge.errors.ImportRejected` (nothing written) when a row is bad
    and ``skip_invalid`` is false.
    """
    parsed = read_accounts_csv(path)
    return import_parsed(directory, parsed, skip_invalid=skip_invalid, progress=progress)


def import_parsed(
    directory: AccountDirectory,
    parsed: ParsedFile,
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Write a checked file; see :func:`import_accounts_csv`."""
    errors = list(parsed.errors)
    accounts = parsed.accounts
    named = {o.org_id for o in parsed.organizations}
    unnamed = {a.org_id for a in accounts} - named
    unknown = {org_id for org_id in unnamed if directory.get_organization(org_id) is None}
    if unknown:
        errors.extend(
            RowError(
                parsed.source,
                parsed.org_lines[org_id],
                f"organisation {org_id!r} is new and has no org_name; its rows are bad",
            )
            for org_id in sorted(unknown)
        )
        accounts = tuple(a for a in accounts if a.org_id not in unknown)
    if errors and not skip_invalid:
        raise ImportRejected(sorted(errors, key=lambda e: e.line))
    imported = directory.import_accounts(accounts, parsed.organizations, progress)
    return ImportReport(parsed.source, imported, tuple(errors), parsed.warnings)


def parse_accounts_text(text: str, source: str = "<text>") -> ParsedFile:
    """Parse CSV held in a string (for tests and embedding)."""
    return parse_accounts_csv(io.StringIO(text, newline=""), source)
