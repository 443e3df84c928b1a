"""The `sso-bridge` command line, on the bundled sample region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sso_bridge.cli import main
from sso_bridge.cli.output import exit_status

ROOT = Path(__file__).resolve().parents[2]
DATA = sorted((ROOT / "examples" / "data").glob("*.csv"))
IDENTITIES = ROOT / "examples" / "identities"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SSO_BRIDGE_DB", f"sqlite:///{tmp_path / 'region.db'}")
    monkeypatch.delenv("SSO_BRIDGE_KEY", raising=False)
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def region(cli):  # type: ignore[no-untyped-def]
    result = cli("accounts", "import", *map(str, DATA))
    assert result.exit_code == 0, result.output
    return cli


def one_error_line(result: Result, code: str) -> None:
    assert result.exit_code == exit_status(code)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {code}: "), result.stderr


def match_json(cli, name: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("match", "--json", str(IDENTITIES / f"{name}.json"))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_import_reports_each_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("accounts", "import", *map(str, DATA))
    assert result.exit_code == 0
    created, key, *imported = result.stdout.splitlines()
    assert created == f"created database sqlite:///{tmp_path / 'region.db'}"
    assert key.startswith(f"created key file {tmp_path / 'region.db.key'}")
    assert [line.split(": ")[1] for line in imported] == [
        "imported 6 account(s)",
        "imported 4 account(s)",
        "imported 2 account(s)",
        "imported 6 account(s)",
    ]
    assert (tmp_path / "region.db.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("name", "outcome", "candidates", "rejected"),
    [
        # a teacher in one school and a parent in two others, one of them typed with Latin letters
        ("smirnova", "CHOOSE", ["g5-p-101", "l2-p-201", "s17-t-001"], []),
        # namesake with the same birth date but another SNILS is vetoed
        ("kuznetsova", "AUTO_LINK", ["s17-t-003"], [("l2-p-202", "snils_conflict")]),
        # one parent entered twice with different birth dates: both kept (SNILS / passport)
        ("sokolov", "CHOOSE", ["g5-p-120", "g5-p-121"], []),
        # a blocked account is not a candidate
        ("novikov", "AUTO_LINK", ["rc-s-301"], [("s17-t-004", "account_blocked")]),
        # ё and Latin look-alikes on the local side
        ("fedorov", "CHOOSE", ["g5-t-140", "s17-p-010"], []),
        ("ivanov", "AUTO_LINK", ["s17-t-002"], []),
        ("smirnova-unverified", "LOCAL_LOGIN_REQUIRED", [], []),
        ("stranger", "NO_MATCH", [], []),
    ],
)
def test_sample_region_decisions(region, name, outcome, candidates, rejected) -> None:  # type: ignore[no-untyped-def]
    data = match_json(region, name)
    assert data["outcome"] == outcome
    assert [c["account_id"] for c in data["candidates"]] == candidates
    assert [(r["account_id"], r["reason"]) for r in data["rejected"]] == rejected
    for c in data["candidates"]:
        assert c["org_id"]
        assert c["org_name"]
        assert c["matched_on"]
        assert "snils" not in c
        assert "passport" not in c


def test_match_explain_says_why(region) -> None:  # type: ignore[no-untyped-def]
    out = region("match", "--explain", str(IDENTITIES / "kuznetsova.json")).stdout
    assert "outcome: AUTO_LINK" in out
    assert "s17-t-003" in out
    assert "matched on birth_date, snils" in out
    assert "l2-p-202" in out
    assert "snils_conflict" in out
    out = region("match", "--explain", str(IDENTITIES / "sokolov.json")).stdout
    assert "birth date differs" in out
    out = region("match", "--explain", str(IDENTITIES / "smirnova-unverified.json")).stdout
    assert "LOCAL_LOGIN_REQUIRED" in out
    assert "s17" not in out
    assert "g5" not in out


def test_match_reads_stdin_and_links_only_with_apply(region) -> None:  # type: ignore[no-untyped-def]
    text = (IDENTITIES / "kuznetsova.json").read_text(encoding="utf-8")
    assert region("match", input=text).exit_code == 0
    assert region("links", "list").stdout == ""
    result = region("match", "--apply", "--json", "-", input=text)
    assert json.loads(result.stdout)["link"]["account_id"] == "s17-t-003"
    assert "s17-t-003" in region("links", "list").stdout
    # a second run finds the account already linked
    data = json.loads(region("match", "--json", "-", input=text).stdout)
    assert data["candidates"][0]["already_linked"] is True


def test_choose_needs_an_account_to_apply(region) -> None:  # type: ignore[no-untyped-def]
    path = str(IDENTITIES / "smirnova.json")
    one_error_line(region("match", "--apply", path), "match.choice_required")
    assert region("links", "list").stdout == ""
    one_error_line(
        region("match", "--apply", "--account", "rc-s-301", path), "link.not_a_candidate"
    )
    result = region("match", "--apply", "--account", "l2-p-201", path)
    assert result.exit_code == 0
    assert "linked:" in result.stdout
    links = json.loads(region("links", "list", "--json").stdout)
    assert [(x["account_id"], x["method"]) for x in links] == [("l2-p-201", "chosen")]
    one_error_line(region("match", "--account", "l2-p-201", path), "cli.usage")


def test_links_add_remove_and_audit(region) -> None:  # type: ignore[no-untyped-def]
    args = ["--issuer", "https://esia/", "--subject", "42", "--account", "s17-t-001"]
    assert region("links", "add", *args, "--actor", "admin:olga").exit_code == 0
    assert "already linked" in region("links", "add", *args).stdout
    one_error_line(
        region(
            "links", "add", "--issuer", "https://esia/", "--subject", "43", "--account", "s17-t-001"
        ),
        "link.conflict",
    )
    one_error_line(
        region("links", "add", "--issuer", "https://esia/", "--subject", "43", "--account", "no"),
        "account.not_found",
    )
    assert region("links", "remove", *args).exit_code == 0
    one_error_line(region("links", "remove", *args), "link.not_found")
    events = json.loads(region("audit", "tail", "--json").stdout)
    assert [(e["action"], e["code"]) for e in events] == [
        ("link", None),
        ("link_refused", "link.conflict"),
        ("link_refused", "account.not_found"),
        ("unlink", None),
    ]
    assert events[0]["actor"] == "admin:olga"
    assert "unlink" in region("audit", "tail", "-n", "1").stdout


def test_accounts_list_and_show(region) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(region("accounts", "list", "--json", "--org", "gym5").stdout)
    assert [a["account_id"] for a in listed] == [
        f"g5-{x}" for x in ("p-101", "p-102", "p-120", "p-121", "t-140", "u-130")
    ]
    assert len(region("accounts", "list", "--limit", "5").stdout.splitlines()) == 5
    shown = json.loads(region("accounts", "show", "--json", "s17-t-001").stdout)
    assert shown["snils_on_file"] is True
    assert shown["passport_on_file"] is True
    assert shown["org_name"] == "Школа № 17"
    assert shown["links"] == []
    assert "on file" in region("accounts", "show", "s17-t-001").stdout
    one_error_line(region("accounts", "show", "nobody"), "account.not_found")


def test_bad_rows_are_reported_and_nothing_is_imported(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text(
        DATA[0].read_text(encoding="utf-8") + "x1,gym5,,,,Петров,,,1.1.2000,,,active\n",
        encoding="utf-8",
    )
    result = cli("accounts", "import", str(path))
    assert f"{path}:8: first_name is empty; birth_date '1.1.2000' is not" in result.stderr
    one_error_line(result, "import.invalid_rows")
    assert cli("accounts", "list").stdout == ""
    result = cli("accounts", "import", "--skip-invalid", str(path))
    assert result.exit_code == 0
    assert "imported 6 account(s), skipped 1 bad row(s)" in result.stdout
    assert f"{path}:8:" in result.stderr


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "identity.bad_json"),
        ("[]", "identity.invalid"),
        ('{"issuer": "i", "subject": "s", "verified": "yes"}', "identity.invalid"),
        ('{"issuer": "i", "subject": "s", "shoe_size": 42}', "identity.unknown_field"),
        ('{"issuer": "i", "verified": true}', "identity.missing_subject"),
        ('{"issuer": "i", "subject": "s", "birth_date": "12/03/1984"}', "date.malformed"),
    ],
)
def test_bad_identities(region, text: str, code: str) -> None:  # type: ignore[no-untyped-def]
    one_error_line(region("match", input=text), code)


def test_key_handling(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("init").exit_code == 0  # creates the database and its key
    (tmp_path / "region.db.key").unlink()
    one_error_line(cli("accounts", "list"), "config.key_missing")
    monkeypatch.setenv("SSO_BRIDGE_KEY", "00" * 32)
    one_error_line(cli("accounts", "list"), "store.key_mismatch")
    monkeypatch.setenv("SSO_BRIDGE_KEY", "abc")
    one_error_line(cli("accounts", "list"), "config.bad_key")
    monkeypatch.delenv("SSO_BRIDGE_KEY")
    one_error_line(
        cli("accounts", "list", "--db", "postgresql://x@127.0.0.1:1/y"), "config.key_missing"
    )
    one_error_line(cli("accounts", "list", "--db", "oracle://x"), "config.bad_db_url")


def test_version_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    assert "sso-bridge" in cli("--version").stdout
    out = cli("--help").stdout
    for command in ("accounts", "links", "audit", "match"):
        assert command in out
