"""`sso-bridge` given what a new user mistypes and what an attacker tries.

Every refusal is one line (or one JSON object) with a stable code and its exit status,
and leaves the database, its key and the file system as they were.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sso_bridge.cli import main
from sso_bridge.errors import InvalidInput
from sso_bridge.importing import COLUMNS
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.store.sql import open_store

ROOT = Path(__file__).resolve().parents[2]
DATA = sorted((ROOT / "examples" / "data").glob("*.csv"))
KUZNETSOVA = json.loads((ROOT / "examples" / "identities" / "kuznetsova.json").read_text())
HEADER = ",".join(COLUMNS) + "\n"
ROW = "{id},sch1,Школа № 1,,teacher,{last},Мария,,12.03.1984,,,active\n"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "region.db"
    monkeypatch.setenv("SSO_BRIDGE_DB", f"sqlite:///{path}")
    monkeypatch.delenv("SSO_BRIDGE_KEY", raising=False)
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    return path


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def refused(result: Result, code: str, status: int) -> str:
    assert result.exit_code == status, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {code}: "), result.stderr
    assert "Traceback" not in result.output
    return lines[-1]


def imported(db: Path) -> Path:
    assert run("accounts", "import", *map(str, DATA)).exit_code == 0
    return db


def csv_file(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


# -- 1. a database is created only on purpose --------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("links", "list"),
        ("accounts", "list"),
        ("audit", "tail"),
        ("links", "add", "--issuer", "https://esia/", "--subject", "1", "--account", "a"),
        ("accounts", "unlock", "a"),
        ("accounts", "set-contacts", "a", "--phone", "+79000000000"),
    ],
)
def test_a_missing_database_is_refused_and_not_created(tmp_path: Path, args: tuple[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nonexistent' / 'dir' / 'x.db'}"
    line = refused(run(*args, "--db", url), "store.not_found", 4)
    assert "sso-bridge init" in line
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_database_is_not_created_by_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSO_BRIDGE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    refused(run("links", "list"), "store.not_found", 4)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_is_not_a_database(db: Path) -> None:
    db.touch()
    refused(run("accounts", "list"), "store.not_found", 4)
    assert db.stat().st_size == 0


def test_init_creates_the_database_and_its_key_and_says_so(db: Path) -> None:
    result = run("init")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"created database sqlite:///{db}"
    assert (db.parent / "region.db.key").stat().st_mode & 0o777 == 0o600
    assert run("links", "list").exit_code == 0
    again = run("init", "--json")
    assert json.loads(again.stdout) == {"created": []}


# -- 2. no forged output -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("links", "list", "--subject", "1\tforged"),
        ("links", "list", "--issuer", "https://esia/\n#9 forged line"),
        ("accounts", "show", "a\x1b[2J"),
        ("links", "add", "--issuer", "https://esia/", "--subject", "1", "--account", "s17-t-001",
         "--actor", "admin\n#99\tforged"),
        ("accounts", "unlock", "s17-t-001", "--actor", "x\u202eevil"),
    ],
)  # fmt: skip
def test_control_characters_on_the_command_line_are_refused(db: Path, args: tuple[str]) -> None:
    imported(db)
    refused(run(*args), "input.control_characters", 3)
    assert run("audit", "tail").stdout == ""
    assert run("links", "list").stdout == ""


def test_names_from_csv_reach_the_terminal_escaped(db: Path, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "evil.csv", ROW.format(id="e1", last="Иванов\x1b]0;pwned\x07"))
    assert run("accounts", "import", str(path)).exit_code == 0
    for args in (("accounts", "list"), ("accounts", "show", "e1")):
        out = run(*args).stdout
        assert "\x1b" not in out
        assert "\x07" not in out
        assert "Иванов\\x1b]0;pwned\\x07" in out
    raw = json.loads(run("accounts", "show", "e1", "--json").stdout)
    assert raw["last_name"] == "Иванов\x1b]0;pwned\x07"  # JSON keeps the value, escaped


def test_match_explain_escapes_what_came_from_csv(db: Path, tmp_path: Path) -> None:
    row = "e2,sch2,Школа\x1b[2J\x07,,teacher\x1b[31m,Петров,Пётр,,01.02.1980,,,active\n"
    assert run("accounts", "import", str(csv_file(tmp_path, "evil.csv", row))).exit_code == 0
    identity = {
        "issuer": "https://esia/",
        "subject": "7",
        "verified": True,
        "last_name": "Петров",
        "first_name": "Пётр",
        "birth_date": "1980-02-01",
    }
    out = run("match", "--explain", "-", input=json.dumps(identity)).stdout
    assert "e2" in out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "Школа\\x1b[2J\\x07" in out


def test_a_subject_with_a_newline_is_escaped_in_every_listing(db: Path) -> None:
    imported(db)
    identity = dict(KUZNETSOVA, subject="103\n#1\tforged")
    result = run("match", "--apply", "--explain", "-", input=json.dumps(identity))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "103\\n#1\\tforged -> s17-t-003" in result.stdout
    listed = run("links", "list").stdout
    assert listed.count("\n") == 1
    assert listed.split("\t")[1] == "103\\n#1\\tforged"
    shown = run("accounts", "show", "s17-t-003").stdout
    assert "103\\n#1\\tforged" in shown


# -- 3. links add checks its issuer and subject ------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "subject", "code"),
    [
        ("", "", "link.bad_issuer"),
        ("esia", "1", "link.bad_issuer"),
        ("ftp://esia.example/", "1", "link.bad_issuer"),
        ("https://", "1", "link.bad_issuer"),
        ("https://esia.example/", "", "link.bad_subject"),
        ("https://esia.example/", "  ", "link.bad_subject"),
    ],
)
def test_links_add_refuses_a_bad_issuer_or_subject(
    db: Path, issuer: str, subject: str, code: str
) -> None:
    imported(db)
    args = ("--issuer", issuer, "--subject", subject, "--account", "s17-t-001")
    refused(run("links", "add", *args), code, 3)
    assert run("links", "list").stdout == ""
    assert run("audit", "tail").stdout == ""


def test_an_http_issuer_is_accepted(db: Path) -> None:
    imported(db)
    args = ("--issuer", "http://esia-portal1.test.gosuslugi.ru/", "--subject", "1")
    assert run("links", "add", *args, "--account", "s17-t-001").exit_code == 0


def test_the_api_refuses_what_the_command_line_refuses(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'api.db'}", b"k" * 32)
    linker = Linker(store, store, store)
    for issuer, subject in (("", "1"), ("not a url", "1"), ("https://esia/", "")):
        with pytest.raises(InvalidInput):
            linker.link_admin(issuer, subject, "a", RequestContext("admin"))
    assert store.tail(10) == []
    store.close()


# -- 4. one line, never a traceback ------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b'{"issuer": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 50 + b"1" + b"}" * 50],
)
def test_unreadable_identities_are_one_line(db: Path, data: bytes) -> None:
    imported(db)
    refused(run("match", input=data), "identity.bad_json", 3)


def test_a_database_driver_we_do_not_ship_is_a_config_error(db: Path) -> None:
    url = "postgresql+psycopg2://x@127.0.0.1/y"
    refused(run("links", "list", "--db", url), "config.bad_db_url", 6)


def test_an_unexpected_error_is_one_line(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imported(db)

    def broken(_store: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(importlib.import_module("sso_bridge.cli.audit"), "verify_log", broken)
    line = refused(run("audit", "verify"), "bridge.error", 1)
    assert "disk on fire" in line
    result = run("audit", "verify", "--json")
    assert json.loads(result.stdout)["error"]["code"] == "bridge.error"


# -- 5. one set of limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (ROW.format(id="a" * 129, last="Иванов"), "account_id is longer than 128 characters"),
        (ROW.format(id="a1", last="И" * 201), "last_name is longer than 200 characters"),
    ],
)
def test_values_too_long_for_any_backend_are_bad_rows(
    db: Path, tmp_path: Path, row: str, reason: str
) -> None:
    path = csv_file(tmp_path, "long.csv", ROW.format(id="ok", last="Петров"), row)
    result = run("accounts", "import", str(path))
    refused(result, "import.invalid_rows", 3)
    assert f"{path}:3: {reason}" in result.stderr
    assert run("accounts", "list").stdout == ""


# -- 6. one import, one transaction --------------------------------------------------------


def test_a_bad_file_means_nothing_of_any_file_is_imported(db: Path, tmp_path: Path) -> None:
    ok = csv_file(tmp_path, "ok.csv", ROW.format(id="ok", last="Петров"))
    bad = csv_file(tmp_path, "bad.csv", ROW.format(id="", last="Петров"))
    result = run("accounts", "import", str(ok), str(bad))
    line = refused(result, "import.invalid_rows", 3)
    assert "nothing was imported" in line
    assert f"{ok}: imported" not in result.stdout
    assert run("accounts", "list").stdout == ""
    missing = run("accounts", "import", str(ok), str(tmp_path / "missing.csv"))
    refused(missing, "import.unreadable", 3)
    assert run("accounts", "list").stdout == ""


# -- 7. exit statuses, --json everywhere, --offset -----------------------------------------


def test_errors_with_json_are_json_on_stdout(db: Path) -> None:
    result = run("links", "list", "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "store.not_found"
    assert str(db) in error["message"]


def test_write_commands_print_json(db: Path) -> None:
    result = run("accounts", "import", "--json", *map(str, DATA))
    data = json.loads(result.stdout)
    assert [f["imported"] for f in data["files"]] == [6, 4, 2, 6]
    assert data["created"][0].startswith("database ")
    args = ("--issuer", "https://esia/", "--subject", "1", "--account", "s17-t-001")
    added = json.loads(run("links", "add", "--json", *args).stdout)
    assert (added["created"], added["link"]["method"]) == (True, "admin")
    removed = json.loads(run("links", "remove", "--json", *args).stdout)
    assert removed["removed"]["subject"] == "1"
    unlocked = json.loads(run("accounts", "unlock", "s17-t-001", "--json").stdout)
    assert unlocked == {"account_id": "s17-t-001", "done": "unlocked"}


def test_links_list_offset(db: Path) -> None:
    imported(db)
    for subject, account in (("1", "s17-t-001"), ("2", "s17-t-002"), ("3", "s17-t-003")):
        args = ("--issuer", "https://esia/", "--subject", subject, "--account", account)
        assert run("links", "add", *args).exit_code == 0
    listed = run("links", "list", "--offset", "1", "--limit", "1", "--json").stdout
    assert [x["subject"] for x in json.loads(listed)] == ["2"]


def test_a_usage_error_exits_2(db: Path) -> None:
    imported(db)
    refused(run("match", "--account", "x", "-", input="{}"), "cli.usage", 2)
