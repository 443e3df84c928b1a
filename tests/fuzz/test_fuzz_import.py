"""Fuzzing the CSV account importer with generated files: rows of names, SNILS, passport
numbers, dates and statuses as people write them, shuffled and damaged headers, quoting,
line endings, BOMs and damaged bytes; into an in-memory directory and into SQLite.

Invariant: a file is imported with every row as it was written (names stripped, the
SNILS and passport hashed from the digits written, the birth date written), or refused
with an ``import.*`` code, and then nothing at all is imported.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz, sometimes
from fuzz.identity_text import (
    PASSPORT_SEPARATORS,
    SEPARATORS,
    date_texts,
    date_texts_of,
    names,
    passport_texts,
    snils_texts,
)
from fuzz.saml_mutations import Splice, Truncate
from sso_bridge.errors import BridgeError
from sso_bridge.importing import COLUMNS, import_accounts_csv
from sso_bridge.matching.keys import BlindIndex
from sso_bridge.model import Organisation
from sso_bridge.store.sql import open_store

KEY: Final = bytes(range(32))
INDEX: Final = BlindIndex(KEY)
KNOWN_ORGS: Final = {"sch1": "Школа № 1", "sch2": "Школа № 2"}
FILE: Final = Path(tempfile.gettempdir()) / f"fuzz-import-{os.getpid()}.csv"


class _Writer:
    def __init__(self, directory: MemoryDirectory) -> None:
        self.directory = directory
        self.organisations: dict[str, str] = {}
        self.rows: list[tuple[Any, ...]] = []

    def add_organisations(self, organisations: Iterable[Organisation]) -> None:
        self.organisations.update((o.org_id, o.name) for o in organisations)

    def has_organisation(self, org_id: str) -> bool:
        return org_id in self.organisations or org_id in self.directory.organisations

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows.extend(rows)


class MemoryDirectory:
    """The part of an account directory the importer uses; an import is all or nothing."""

    def __init__(self) -> None:
        self.blind_index = INDEX
        self.organisations = dict(KNOWN_ORGS)
        self.rows: list[tuple[Any, ...]] = []

    @contextlib.contextmanager
    def bulk_import(self, expected_rows: int = 0) -> Iterator[_Writer]:
        writer = _Writer(self)
        yield writer  # an exception leaves nothing behind
        self.organisations.update(writer.organisations)
        self.rows.extend(writer.rows)


@cache
def cells() -> dict[str, st.SearchStrategy[str]]:
    text = st.text(max_size=12)
    return {
        "account_id": st.one_of(st.sampled_from(("a1", "a2", "a3", " a1 ", "")), text),
        "org_id": st.one_of(st.sampled_from(("sch1", "sch2", "new", "", " sch1")), text),
        "org_name": st.one_of(st.sampled_from(("Школа № 1", "", "Новая школа", "Ш")), text),
        "login": st.one_of(st.just(""), text),
        "roles": st.one_of(st.sampled_from(("", "teacher;staff", " ; ;x", ";;", "a b")), text),
        "last_name": st.one_of(st.just(""), names()),
        "first_name": names(),
        "middle_name": st.one_of(st.just(""), names()),
        "birth_date": st.one_of(st.just(""), date_texts()),
        "snils": st.one_of(st.just(""), snils_texts()),
        "passport": st.one_of(st.just(""), passport_texts()),
        "status": st.sampled_from(("", "active", "blocked", "Active", "BLOCKED", "deleted", " x")),
    }


@cache
def rows() -> st.SearchStrategy[tuple[str, ...]]:
    strategies = cells()
    return st.tuples(*(strategies[name] for name in COLUMNS))


@cache
def headers() -> st.SearchStrategy[tuple[str, ...]]:
    shuffled = st.permutations(COLUMNS).map(tuple)
    damaged = st.builds(
        _damage,
        shuffled,
        st.integers(0, 11),
        st.sampled_from(("upper", "spaces", "drop", "repeat", "unknown", "empty")),
    )
    return st.one_of(st.just(COLUMNS), shuffled, damaged)


def _damage(columns: tuple[str, ...], at: int, change: str) -> tuple[str, ...]:
    names = list(columns)
    if change == "upper":
        names[at] = names[at].upper()
    elif change == "spaces":
        names[at] = f" {names[at]} "
    elif change == "drop":
        del names[at]
    elif change == "repeat":
        names.append(names[at])
    elif change == "unknown":
        names.append("extra")
    else:
        names[at] = ""
    return tuple(names)


CSV_BYTES: Final = (b'"', b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b'""', b"\xef\xbb\xbf")


@cache
def file_changes() -> st.SearchStrategy[Any]:
    fragments = st.one_of(
        st.sampled_from(CSV_BYTES),
        st.binary(max_size=8),
        st.sampled_from((b"a" * 140_000, b'"' * 1001, b",\n" * 5000)),
    )
    return st.one_of(
        st.builds(Truncate, st.integers(0, 1 << 16)),
        st.builds(Splice, st.integers(0, 1 << 16), st.integers(0, 4), fragments),
    )


@dataclass(frozen=True, repr=False)
class ImportCase:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # cells in COLUMNS order
    newline: str
    quote_all: bool
    bom: bool
    changes: tuple[Any, ...]
    skip_invalid: bool
    data: bytes = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"ImportCase(header={self.header}, rows={self.rows}, newline={self.newline!r}, "
            f"quote_all={self.quote_all}, bom={self.bom}, changes={self.changes!r:.500}, "
            f"skip_invalid={self.skip_invalid})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def import_cases(draw: st.DrawFn) -> ImportCase:
    header = draw(headers())
    body = tuple(draw(st.lists(rows(), max_size=12)))
    newline = draw(st.sampled_from(("\n", "\n", "\r\n", "\r")))
    quote_all = draw(st.booleans())
    bom = draw(st.booleans())
    changes = sometimes(draw, 15, file_changes(), 2)
    out = io.StringIO()
    writer = csv.writer(
        out, lineterminator=newline, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerow(header)
    for row in body:
        by_name = dict(zip(COLUMNS, row, strict=True))
        writer.writerow([by_name.get(name.strip().lower(), "") for name in header])
    data = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")
    for change in changes:
        data = change.apply(data)
    return ImportCase(header, body, newline, quote_all, bom, changes, draw(st.booleans()), data)


# -- what an imported row must be -------------------------------------------------------------


def _digits(value: str, separators: str) -> str:
    return "".join(c for c in value if c not in separators)


def _matches(row: Sequence[Any], written: Sequence[str]) -> bool:
    """Whether stored ``row`` (an account row) is the written CSV row ``written``."""
    given = dict(zip(COLUMNS, (cell.strip() for cell in written), strict=True))
    (account_id, org_id, login, roles, last, first, middle, birth, _, snils, passport, status) = row
    if (account_id, org_id, last, first) != (
        given["account_id"],
        given["org_id"],
        given["last_name"],
        given["first_name"],
    ):
        return False
    if login != (given["login"] or None) or middle != (given["middle_name"] or None):
        return False
    given_roles = [r.strip() for r in given["roles"].split(";") if r.strip()]
    if [r for r in roles.split(";") if r] != given_roles and roles != given["roles"]:
        return False
    if status != (given["status"].lower() or "active"):
        return False
    if birth is not None:
        born = date(birth // 10000, birth // 100 % 100, birth % 100)
        if given["birth_date"] not in date_texts_of(born):
            return False
    elif given["birth_date"]:
        return False
    if snils is not None and snils != INDEX.snils(_digits(given["snils"], SEPARATORS)):
        return False
    expected = given["passport"] and INDEX.passport(_digits(given["passport"], PASSPORT_SEPARATORS))
    return passport == (expected or None)


def _check_rows(case: ImportCase, stored: Sequence[Sequence[Any]]) -> None:
    today = date.today()
    for row in stored:
        account_id, org_id, _, _, last, first, _, birth, *_, status = row
        if not all(v and v == v.strip() for v in (account_id, org_id, last, first)):
            raise InvariantViolation(f"imported a row with an empty or unstripped field: {row!r}")
        if status not in ("active", "blocked"):
            raise InvariantViolation(f"imported status {status!r}")
        if birth is not None and birth > today.year * 10000 + today.month * 100 + today.day:
            raise InvariantViolation(f"imported a birth date in the future: {birth}")
        if not case.changes and not any(_matches(row, written) for written in case.rows):
            raise InvariantViolation(f"imported row {row!r} is no row of the file")


def _import(case: ImportCase) -> tuple[Any, MemoryDirectory]:
    FILE.write_bytes(case.data)
    directory = MemoryDirectory()
    report = import_accounts_csv(
        directory,  # type: ignore[arg-type]
        FILE,
        skip_invalid=case.skip_invalid,
        workers=0,
    )
    return report, directory


def _verify_import(case: ImportCase, result: tuple[Any, MemoryDirectory]) -> str:
    report, directory = result
    if report.imported != len(directory.rows):
        raise InvariantViolation(f"reported {report.imported} rows, wrote {len(directory.rows)}")
    if report.skipped and not case.skip_invalid:
        raise InvariantViolation("bad rows were skipped without skip_invalid")
    _check_rows(case, directory.rows)
    return "accepted (rows skipped)" if report.skipped else "accepted"


def _repro(case: ImportCase, store: str) -> str:
    directory = (
        "open_store('sqlite://', bytes(range(32)))"
        if store == "sqlite"
        else "...  # any AccountDirectory; tests/fuzz/test_fuzz_import.py has MemoryDirectory"
    )
    return (
        "from pathlib import Path\n\n"
        "from sso_bridge.importing import import_accounts_csv\n"
        "from sso_bridge.store.sql import open_store\n\n"
        f"Path('fuzz.csv').write_bytes({case.data!r})\n"
        f"directory = {directory}\n"
        f"print(import_accounts_csv(directory, 'fuzz.csv', skip_invalid={case.skip_invalid}, "
        "workers=0))\n"
    )


@pytest.mark.parametrize("count", chunks("import_csv"))
def test_import_csv(count: int) -> None:
    target = Target(
        "import_csv",
        call=_import,
        verify=_verify_import,
        repro=lambda case: _repro(case, "memory"),
        cpu_budget_ms=None,  # an administrator's file, not unauthenticated input
    )
    try:
        fuzz(target, import_cases(), count)
    finally:
        FILE.unlink(missing_ok=True)


# -- into SQLite ------------------------------------------------------------------------------


def _import_sqlite(case: ImportCase) -> tuple[Any, list[Any]]:
    FILE.write_bytes(case.data)
    store = open_store("sqlite://", KEY)
    try:
        store.import_accounts([], [Organisation(k, v) for k, v in KNOWN_ORGS.items()])
        try:
            report = import_accounts_csv(store, FILE, skip_invalid=case.skip_invalid, workers=0)
        except BridgeError:
            if store.count_accounts() != 0:
                raise InvariantViolation("a refused file left accounts behind") from None
            raise
        accounts = [store.get_account(str(row[0]).strip()) for row in case.rows]
        return report, [a for a in accounts if a is not None]
    finally:
        store.close()


def _verify_sqlite(case: ImportCase, result: tuple[Any, list[Any]]) -> str:
    report, accounts = result
    if report.imported < len({a.account_id for a in accounts}):
        raise InvariantViolation("more accounts are stored than were imported")
    for account in accounts:
        if not case.changes and not any(
            (account.last_name, account.first_name) == (row[5].strip(), row[6].strip())
            for row in case.rows
            if row[0].strip() == account.account_id
        ):
            raise InvariantViolation(f"stored {account!r} is no row of the file")
    return "accepted (rows skipped)" if report.skipped else "accepted"


@pytest.mark.parametrize("count", chunks("import_sqlite"))
def test_import_sqlite(count: int) -> None:
    target = Target(
        "import_sqlite",
        call=_import_sqlite,
        verify=_verify_sqlite,
        repro=lambda case: _repro(case, "sqlite"),
        cpu_budget_ms=None,  # an administrator's file, not unauthenticated input
    )
    try:
        fuzz(target, import_cases(), count)
    finally:
        FILE.unlink(missing_ok=True)
