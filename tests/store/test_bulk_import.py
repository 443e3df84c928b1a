"""The bulk-import transaction on each backend: a first load (plain INSERT on SQLite,
COPY straight into the table on PostgreSQL, indexes rebuilt after), a load into a filled
table (UPSERT; COPY into a staging table merged at the end), repeated ids across the files
of one import (the last row wins), and a refused import that leaves everything as it was."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso_bridge.importing import COLUMNS, import_accounts_csv, import_accounts_files
from sso_bridge.importing.errors import ImportRejected
from sso_bridge.matching import Matcher
from sso_bridge.matching.normalize import parse_snils
from sso_bridge.model import FederatedIdentity, Outcome
from sso_bridge.store.sql import SqlStore

HEADER = ",".join(COLUMNS) + "\n"
INDEXES = {
    "ix_accounts_name_key",
    "ix_accounts_snils",
    "ix_accounts_passport",
    "ix_accounts_org",
    "ix_accounts_login",
}


def rows(start: int, stop: int, last: str = "Иванов") -> str:
    return "".join(
        f"p{i},big,Большая школа,login{i},parent,{last},Иван,,{1970 + i % 30}-01-0{i % 9 + 1},"
        f",,active\n"
        for i in range(start, stop)
    )


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def indexes(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        return {str(i["name"]) for i in sa.inspect(conn).get_indexes("accounts")}


def last_names(store: SqlStore, *ids: str) -> list[str | None]:
    found = [store.get_account(i) for i in ids]
    return [a.last_name if a else None for a in found]


def test_first_load_with_ids_repeated_in_a_later_file(store: SqlStore, tmp_path: Path) -> None:
    first = write(tmp_path, "first.csv", rows(0, 12_000))
    # the second file repeats 100 ids of the first with another surname, and adds 50
    second = write(tmp_path, "second.csv", rows(11_950, 12_050, last="Петров"))
    reports = import_accounts_files(store, [first, second])
    assert [r.imported for r in reports] == [12_000, 100]
    assert store.count_accounts() == 12_050
    assert last_names(store, "p0", "p11949", "p11950", "p12049") == [
        "Иванов",
        "Иванов",
        "Петров",
        "Петров",
    ]
    assert indexes(store) >= INDEXES
    identity = FederatedIdentity(
        "https://esia/", "1", True, "Иванов", "Иван", birth_date=date(1970, 1, 1)
    )
    decision = Matcher(store).match(identity)
    assert decision.outcome is Outcome.CHOOSE
    assert len(decision.candidates) == len([i for i in range(11_950) if i % 90 == 0])
    assert store.find_by_login("big", "login11999") is not None
    if store.engine.dialect.name == "postgresql":
        # the planner has statistics at once (else it hashes all organisations per match)
        with store.engine.connect() as conn:
            analysed = conn.exec_driver_sql(
                "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()"
            )
            assert {"accounts", "organizations"} <= {r[0] for r in analysed}


def test_load_into_a_filled_table_updates_and_the_last_row_wins(
    store: SqlStore, tmp_path: Path
) -> None:
    import_accounts_csv(store, write(tmp_path, "base.csv", rows(0, 300)))
    again = write(tmp_path, "again.csv", rows(250, 400, last="Петров"))
    once_more = write(tmp_path, "more.csv", rows(390, 410, last="Сидоров"))
    reports = import_accounts_files(store, [again, once_more])
    assert [r.imported for r in reports] == [150, 20]
    assert store.count_accounts() == 410
    assert last_names(store, "p249", "p250", "p389", "p390", "p409") == [
        "Иванов",
        "Петров",
        "Петров",
        "Сидоров",
        "Сидоров",
    ]
    assert indexes(store) >= INDEXES


def test_values_round_trip_exactly(store: SqlStore, tmp_path: Path) -> None:
    body = (
        "a1,big,Большая школа,m.s,teacher;staff,Смирнова,Мария,Петровна,12.03.1984,"
        "112-233-445 95,4506 123456,blocked\n"
        'a2,big,,,,"Tab\there, ""quoted""",Back\\slash,,,,,\n'
    )
    import_accounts_csv(store, write(tmp_path, "values.csv", body))
    one = store.get_entry("a1")
    two = store.get_entry("a2")
    assert one is not None and two is not None
    assert one.keys.snils == store.blind_index.snils(parse_snils("11223344595"))
    assert one.keys.passport == store.blind_index.passport("4506123456")
    assert one.account.roles == ("teacher", "staff")
    assert one.account.birth_date == date(1984, 3, 12)
    assert one.account.status.value == "blocked"
    assert (two.account.last_name, two.account.first_name) == ('Tab\there, "quoted"', "Back\\slash")
    assert (two.account.login, two.account.middle_name, two.account.birth_date) == (None,) * 3
    assert (two.keys.snils, two.keys.passport, two.account.roles) == (None, None, ())


@pytest.mark.parametrize("size", [200, 12_000])
def test_a_refused_import_changes_nothing(store: SqlStore, tmp_path: Path, size: int) -> None:
    import_accounts_csv(store, write(tmp_path, "base.csv", rows(0, 10)))
    good = write(tmp_path, "good.csv", rows(5, size, last="Петров"))
    bad = write(tmp_path, "bad.csv", rows(size, size + 5) + "x1,big,,,,,Иван,,,,,\n")
    with pytest.raises(ImportRejected):
        import_accounts_files(store, [good, bad])
    assert store.count_accounts() == 10
    assert last_names(store, "p5", "p9", "p10") == ["Иванов", "Иванов", None]
    assert indexes(store) >= INDEXES


def test_a_refused_first_load_keeps_the_indexes(store: SqlStore, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", rows(0, 12_000) + "x1,big,,,,,Иван,,,,,\n")
    with pytest.raises(ImportRejected):
        import_accounts_csv(store, bad)
    assert store.count_accounts() == 0
    assert indexes(store) >= INDEXES
