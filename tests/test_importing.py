"""CSV import: all-or-nothing files, FILE:LINE reports, --skip-invalid, updates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.importing import COLUMNS, csvfile, import_accounts_csv
from sso_bridge.importing.errors import ImportRejected
from sso_bridge.matching import Matcher
from sso_bridge.model import AccountStatus, FederatedIdentity, Outcome
from sso_bridge.store.sql import SqlStore

HEADER = ",".join(COLUMNS) + "\n"
GOOD = (
    "a1,sch1,Школа № 1,m.s,teacher;staff,Смирнова,Мария,Петровна,12.03.1984,"
    "112-233-445 95,4506 123456,active\n"
    "a2,new,Новая школа,,parent,Иванов,Иван,,1979-06-01,,,\n"
)


def write(tmp_path: Path, body: str, name: str = "accounts.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def test_good_file_is_imported(sqlite_store: SqlStore, tmp_path: Path) -> None:
    report = import_accounts_csv(sqlite_store, write(tmp_path, GOOD))
    assert report.imported == 2
    assert report.skipped == ()
    assert report.warnings == ()
    a1 = sqlite_store.get_entry("a1")
    assert a1 is not None
    assert a1.account.roles == ("teacher", "staff")
    assert a1.account.birth_date == date(1984, 3, 12)
    assert a1.keys.snils is not None
    assert a1.keys.passport is not None
    a2 = sqlite_store.get_entry("a2")
    assert a2 is not None
    assert a2.organisation.name == "Новая школа"
    assert a2.account.status is AccountStatus.ACTIVE  # empty status means active
    assert a2.account.middle_name is None
    assert a2.account.login is None


BAD_ROWS = [
    (",sch1,Ш,,,Смирнова,Мария,,,,,active", "account_id is empty"),
    ("b1,sch1,Ш,,,,Мария,,,,,active", "last_name is empty"),
    ("b2,sch1,Ш,,,Смирнова,Мария,,31.02.1984,,,active", "birth_date '31.02.1984' is not"),
    ("b3,sch1,Ш,,,Смирнова,Мария,,2999-01-01,,,active", "birth_date is in the future"),
    ("b4,sch1,Ш,,,Смирнова,Мария,,,1234,,active", "snils is not 11 digits"),
    ("b5,sch1,Ш,,,Смирнова,Мария,,,,12 34,active", "passport is not"),
    ("b6,sch1,Ш,,,Смирнова,Мария,,,,,deleted", "status 'deleted' is not active or blocked"),
    ("b7,sch1,Ш,,,Смирнова,Мария", "expected 12 cells, found 7"),
    ("b8,sch1,Другое имя,,,Смирнова,Мария,,,,,active", "organisation 'sch1' is named 'Ш'"),
]


@pytest.mark.parametrize(("row", "reason"), BAD_ROWS)
def test_a_bad_row_rejects_the_whole_file(
    sqlite_store: SqlStore, tmp_path: Path, row: str, reason: str
) -> None:
    first = "ok1,sch1,Ш,,,Смирнова,Мария,,,,,active\n"
    path = write(tmp_path, first + row + "\n")
    with pytest.raises(ImportRejected) as exc:
        import_accounts_csv(sqlite_store, path)
    [error] = exc.value.errors
    assert str(error).startswith(f"{path}:3: ")
    assert reason in error.reason
    assert sqlite_store.count_accounts() == 0


def test_skip_invalid_imports_the_good_rows(sqlite_store: SqlStore, tmp_path: Path) -> None:
    body = "\n".join(["ok1,sch1,Ш,,,Смирнова,Мария,,,,,active"] + [r for r, _ in BAD_ROWS[:7]])
    report = import_accounts_csv(sqlite_store, write(tmp_path, body + "\n"), skip_invalid=True)
    assert report.imported == 1
    assert [e.line for e in report.skipped] == list(range(3, 10))
    assert sqlite_store.count_accounts() == 1


def test_reimport_updates(sqlite_store: SqlStore, tmp_path: Path) -> None:
    import_accounts_csv(sqlite_store, write(tmp_path, GOOD))
    changed = "a1,sch1,Школа № 1,m.s,teacher,Смирнова,Мария,Петровна,12.03.1984,,,blocked\n"
    import_accounts_csv(sqlite_store, write(tmp_path, changed, "again.csv"))
    a1 = sqlite_store.get_entry("a1")
    assert a1 is not None
    assert a1.account.status is AccountStatus.BLOCKED
    assert a1.account.roles == ("teacher",)
    assert a1.keys.snils is None
    assert sqlite_store.count_accounts() == 2


def test_wrong_snils_checksum_is_a_warning_and_absent(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    row = "a1,sch1,Ш,,,Смирнова,Мария,,,112-233-445 96,,active\n"
    report = import_accounts_csv(sqlite_store, write(tmp_path, row))
    assert report.imported == 1
    assert [(w.line, w.reason) for w in report.warnings] == [
        (2, "SNILS check digits are wrong; stored as absent")
    ]
    entry = sqlite_store.get_entry("a1")
    assert entry is not None
    assert entry.keys.snils is None


def rejected(store: SqlStore, path: Path) -> list[str]:
    with pytest.raises(ImportRejected) as exc:
        import_accounts_csv(store, path)
    assert store.count_accounts() == 0
    return [f"{e.line}: {e.reason}" for e in exc.value.errors]


def test_repeated_account_id_in_one_file(sqlite_store: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "a1,sch1,Ш,,,А,Б,,,,,\n" + "a1,sch1,Ш,,,А,Б,,,,,\n")
    assert rejected(sqlite_store, path) == ["3: account_id 'a1' repeats line 2"]


def test_new_organisation_needs_a_name(sqlite_store: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "a1,sch1,,,,А,Б,,,,,\n" + "a2,zzz,,,,А,Б,,,,,\n")
    with pytest.raises(ImportRejected) as exc:
        import_accounts_csv(sqlite_store, path)
    assert [(e.line, e.reason) for e in exc.value.errors] == [
        (3, "organisation 'zzz' is new and has no org_name; its rows are bad")
    ]
    assert sqlite_store.count_accounts() == 0  # sch1 exists, but the file is all-or-nothing


def test_line_numbers_survive_multiline_cells(sqlite_store: SqlStore, tmp_path: Path) -> None:
    body = 'a1,sch1,"Школа\nна два ряда",,,А,Б,,,,,\n' + "a2,sch1,,,,А,,,,,,\n"
    assert rejected(sqlite_store, write(tmp_path, body)) == ["4: first_name is empty"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("account_id,org_id\n", "missing org_name"),
        (HEADER.strip() + ",extra\n", "unknown extra"),
        (HEADER.strip() + ",status\n", "repeated columns"),
        ("", "the file is empty"),
    ],
)
def test_header_problems(sqlite_store: SqlStore, tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        import_accounts_csv(sqlite_store, write(tmp_path, "", header=header))
    assert exc.value.code == "import.bad_header"
    assert message in exc.value.message


def test_columns_in_any_order_and_a_bom(sqlite_store: SqlStore, tmp_path: Path) -> None:
    cols = HEADER.strip().split(",")
    path = tmp_path / "r.csv"
    path.write_text(
        "\ufeff" + ",".join(reversed(cols)) + "\nactive,,,,,Мария,Смирнова,,,Ш,sch1,r1\n",
        encoding="utf-8",
    )
    assert import_accounts_csv(sqlite_store, path).imported == 1
    assert sqlite_store.get_account("r1") is not None


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_bare_carriage_return_outside_quotes_refuses_the_file(
    sqlite_store: SqlStore, tmp_path: Path, skip_invalid: bool
) -> None:
    # Python's reader would end a record at the CR: "0" and a record "0,sch1,..." that no
    # line of the file holds
    body = "ok1,sch1,Ш,,,Смирнова,Мария,,,,,active\n0\r0,sch1,Ш,,,А,А,,,,,\n"
    path = write(tmp_path, body)
    with pytest.raises(InvalidInput) as exc:
        import_accounts_csv(sqlite_store, path, skip_invalid=skip_invalid)
    assert exc.value.code == "import.bad_csv"
    assert exc.value.message.startswith(f"{path}:3: ")
    assert sqlite_store.count_accounts() == 0
    # inside quotes, and as part of CRLF line ends, a carriage return is fine
    rows = 'q1,sch1,Ш,,,"Смир\rнова",Мария,,,,,\r\nq2,sch1,Ш,,,А,Б,,,,,\r\n'
    quoted = write(tmp_path, rows, "q.csv")
    assert import_accounts_csv(sqlite_store, quoted, skip_invalid=True).imported >= 1


def test_unreadable_files(sqlite_store: SqlStore, tmp_path: Path) -> None:
    broken = write(tmp_path, 'a1,sch1,"never closed,,,А,Б,,,,,\n')
    with pytest.raises(InvalidInput) as exc:
        import_accounts_csv(sqlite_store, broken)
    assert exc.value.code == "import.bad_csv"
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(HEADER.encode() + "a1,sch1,École,,,Dupré,Zoé,,,,,\n".encode("latin-1"))
    with pytest.raises(InvalidInput) as exc:
        import_accounts_csv(sqlite_store, latin1)
    assert exc.value.code == "import.bad_encoding"
    with pytest.raises(InvalidInput) as exc:
        import_accounts_csv(sqlite_store, tmp_path / "missing.csv")
    assert exc.value.code == "import.unreadable"
    assert sqlite_store.count_accounts() == 0


# -- the block pipeline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "first", "last"),
    [
        (b"a,b\nc,d\n", 3, 7),
        (b'a,"x\ny",b\nc,d\n', 9, 13),  # the first newline is inside quotes
        (b'a,"x ""q"" \ny"\nc\n', 14, 16),  # doubled quotes keep the parity
        (b'a,"open\n', -1, -1),
    ],
)
def test_record_boundaries(data: bytes, first: int, last: int) -> None:
    assert csvfile._record_end(data) == first
    assert csvfile._last_record_end(data) == last


def big_file(tmp_path: Path, rows: int, extra: str = "") -> Path:
    body = "".join(
        f'p{i},sch{i % 3 + 1},"Школа\nномер {i % 3 + 1}",,parent,Иванов,Иван,,'
        f"{1970 + i % 30}-01-0{i % 9 + 1},,,active\n"
        for i in range(rows)
    )
    return write(tmp_path, body + extra)


@pytest.mark.parametrize("workers", [0, 2])
def test_small_blocks_and_workers_give_the_same_result(
    sqlite_store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 300)  # many blocks, cut mid-record
    report = import_accounts_csv(sqlite_store, big_file(tmp_path, 200), workers=workers)
    assert report.imported == 200
    assert sqlite_store.count_accounts() == 200
    entry = sqlite_store.get_entry("p199")
    assert entry is not None
    assert entry.organisation.name == "Школа\nномер 2"
    assert entry.account.birth_date == date(1970 + 199 % 30, 1, 199 % 9 + 1)


@pytest.mark.parametrize("workers", [0, 2])
def test_file_wide_rules_hold_across_blocks(
    sqlite_store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 300)
    extra = (
        "p5,sch1,,,,Петров,Пётр,,,,,\n"  # line 402: repeats an id from an early block
        'x1,sch2,"Другая школа",,,Петров,Пётр,,,,,\n'  # line 403: renames sch2
        "n1,late,,,,Петров,Пётр,,,,,\n"  # line 404: named only further down
        "n2,late,Поздняя школа,,,Петров,Пётр,,,,,\n"
        "z1,ghost,,,,Петров,Пётр,,,,,\n"  # line 406: never named
    )
    path = big_file(tmp_path, 200, extra)
    with pytest.raises(ImportRejected) as exc:
        import_accounts_csv(sqlite_store, path, workers=workers)
    assert [(e.line, e.reason) for e in exc.value.errors] == [
        (402, "account_id 'p5' repeats line 12"),
        (403, "organisation 'sch2' is named 'Школа\\nномер 2' on line 4"),
        (406, "organisation 'ghost' is new and has no org_name; its rows are bad"),
    ]
    assert sqlite_store.count_accounts() == 0
    report = import_accounts_csv(sqlite_store, path, workers=workers, skip_invalid=True)
    assert report.imported == 202  # 200 + n1 and n2, whose organisation was named later
    assert sqlite_store.get_organisation("late") is not None
    assert sqlite_store.get_account("n1") is not None
    assert sqlite_store.get_account("z1") is None


def test_large_import_rebuilds_indexes_and_keeps_matching(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    import_accounts_csv(sqlite_store, big_file(tmp_path, 12_000))
    names = {
        r[1]
        for r in sqlite_store.engine.connect().exec_driver_sql(
            "SELECT type, name FROM sqlite_master WHERE tbl_name = 'accounts' AND type = 'index'"
        )
    }
    assert {"ix_accounts_name_key", "ix_accounts_snils", "ix_accounts_passport"} <= names
    identity = FederatedIdentity(
        "https://esia/", "1", True, "Иванов", "Иван", birth_date=date(1970, 1, 1)
    )
    decision = Matcher(sqlite_store).match(identity)
    assert decision.outcome is Outcome.CHOOSE
    # born 1970-01-01: every 90th row (year cycles by 30, day by 9)
    assert len(decision.candidates) == len(range(0, 12_000, 90))


def test_progress_reports_every_byte(sqlite_store: SqlStore, tmp_path: Path) -> None:
    path = big_file(tmp_path, 50)
    done: list[int] = []
    import_accounts_csv(sqlite_store, path, progress=done.append)
    assert sum(done) == path.stat().st_size


@pytest.mark.parametrize(
    ("column", "limit"),
    [("account_id", 128), ("org_id", 128), ("login", 256), ("roles", 512), ("first_name", 200)],
)
def test_values_longer_than_the_limit_are_bad_rows(
    sqlite_store: SqlStore, tmp_path: Path, column: str, limit: int
) -> None:
    cells = dict(zip(COLUMNS, GOOD.splitlines()[1].split(","), strict=True))
    at_limit = {**cells, column: "x" * limit}
    over = {**cells, "account_id": "a3", column: "y" * (limit + 1)}
    body = ",".join(at_limit.values()) + "\n" + ",".join(over.values()) + "\n"
    with pytest.raises(ImportRejected) as caught:
        import_accounts_csv(sqlite_store, write(tmp_path, body))
    assert [(e.line, e.reason) for e in caught.value.errors] == [
        (3, f"{column} is longer than {limit} characters")
    ]
    assert sqlite_store.count_accounts() == 0
