"""``sso-bridge esia secret`` and ``sso-bridge esia verify-token``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.clock import NOW
from mock_idp.keys import certificate_pem
from sso_bridge.cli import main
from sso_bridge.esia import gost
from sso_bridge.esia.secret import certificate_hash, verify_client_secret
from sso_bridge.esia.tokens import certificate_kid, sign_gost_jwt

KEY = gost.generate_private_key()
CERTIFICATE = gost.self_signed_certificate(KEY, "SCHOOL01", NOW)
OTHER_KEY = gost.generate_private_key()
OTHER = gost.self_signed_certificate(OTHER_KEY, "other", NOW)
STATE = "0b3a5e7c-2f1d-4c8a-9e6b-7d5f3a1c9e2b"
TIMESTAMP = "2026.03.01 15:04:05 +0300"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "key": tmp_path / "client.key",
        "cert": tmp_path / "client.pem",
        "other": tmp_path / "other.pem",
    }
    paths["key"].write_bytes(gost.private_key_pem(KEY))
    paths["cert"].write_text(certificate_pem(CERTIFICATE))
    paths["other"].write_text(certificate_pem(OTHER))
    return paths


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["esia", *args], input=stdin, catch_exceptions=False)


def secret_args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "secret",
        "--key", str(files["key"]),
        "--cert", str(files["cert"]),
        "--client-id", "SCHOOL01",
        "--scope", "openid fullname",
        "--state", STATE,
        "--redirect-uri", "https://school.example/cb",
        "--timestamp", TIMESTAMP,
        *extra,
    ]  # fmt: skip


def test_secret_prints_the_signed_string_the_secret_and_the_hash(files: dict[str, Path]) -> None:
    result = run(*secret_args(files))
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.splitlines())
    assert lines["signed"] == f"SCHOOL01openid fullname{TIMESTAMP}{STATE}https://school.example/cb"
    assert lines["client_certificate_hash"] == certificate_hash(CERTIFICATE).upper()
    verify_client_secret(
        CERTIFICATE,
        lines["client_secret"],
        client_id="SCHOOL01",
        scope="openid fullname",
        scope_org="",
        timestamp=TIMESTAMP,
        state=STATE,
        redirect_uri="https://school.example/cb",
    )


def test_secret_for_the_token_request_signs_the_code_too(files: dict[str, Path]) -> None:
    result = run(*secret_args(files, "--code", "C0DE", "--scope-org", "org_emps", "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["signed"].endswith("https://school.example/cbC0DE")
    assert "org_emps" in data["signed"]
    verify_client_secret(
        CERTIFICATE,
        data["client_secret"],
        client_id="SCHOOL01",
        scope="openid fullname",
        scope_org="org_emps",
        timestamp=TIMESTAMP,
        state=STATE,
        redirect_uri="https://school.example/cb",
        code="C0DE",
    )


def test_secret_prints_the_hash_in_uppercase_unless_asked_for_lowercase(
    files: dict[str, Path],
) -> None:
    upper = json.loads(run(*secret_args(files, "--json")).output)["client_certificate_hash"]
    assert upper == upper.upper() and len(upper) == 64
    lower = json.loads(run(*secret_args(files, "--json", "--hash-case", "lower")).output)
    assert lower["client_certificate_hash"] == certificate_hash(CERTIFICATE) == upper.lower()
    result = run(*secret_args(files, "--hash-case", "mixed"))
    assert result.exit_code != 0


def test_secret_without_timestamp_uses_the_current_moscow_time(files: dict[str, Path]) -> None:
    args = [a for a in secret_args(files) if a not in ("--timestamp", TIMESTAMP)]
    data = json.loads(run(*args, "--json").output)
    assert data["timestamp"].endswith(" +0300")
    assert data["timestamp"] in data["signed"]


def test_secret_refuses_a_malformed_timestamp(files: dict[str, Path]) -> None:
    args = secret_args(files)
    args[args.index(TIMESTAMP)] = "2026-03-01T15:04:05Z"
    result = run(*args)
    assert result.exit_code == 3  # bad input
    assert "error: esia.timestamp_invalid:" in result.output


def test_secret_refuses_a_key_of_another_certificate(files: dict[str, Path]) -> None:
    args = secret_args(files)
    args[args.index(str(files["cert"]))] = str(files["other"])
    result = run(*args)
    assert result.exit_code == 6  # configuration
    assert "error: esia.key_mismatch:" in result.output


def _token(key: gost.GostPrivateKey = KEY) -> str:
    claims = {"iss": "http://esia.example/", "sub": "1000299654", "aud": "SCHOOL01"}
    return sign_gost_jwt(claims, key, certificate_kid(CERTIFICATE))


def test_verify_token_says_a_good_token_verifies(files: dict[str, Path]) -> None:
    result = run(
        "verify-token", _token(), "--cert", str(files["other"]), "--cert", str(files["cert"])
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid:")
    assert "1000299654" in result.output


def test_verify_token_reads_stdin_and_prints_json(files: dict[str, Path]) -> None:
    result = run("verify-token", "-", "--cert", str(files["cert"]), "--json", stdin=_token())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True


def test_verify_token_says_why_a_token_does_not_verify(files: dict[str, Path]) -> None:
    result = run("verify-token", _token(OTHER_KEY), "--cert", str(files["cert"]))
    assert result.exit_code == 3  # bad input
    assert result.output.strip().splitlines() == [
        "error: oidc.bad_signature: the token's GOST signature does not verify"
    ]


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-token", "oidc.malformed_token"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "oidc.alg_not_allowed"),
    ],
)
def test_verify_token_json_gives_the_stable_code(
    files: dict[str, Path], token: str, code: str
) -> None:
    result = run("verify-token", token, "--cert", str(files["cert"]), "--json")
    assert result.exit_code == 3  # bad input
    data = json.loads(result.output)
    assert data["valid"] is False
    assert data["code"] == code


def test_verify_token_reads_esia_s_archive_and_directories(
    files: dict[str, Path], tmp_path: Path
) -> None:
    archive = tmp_path / "esia.zip"
    with zipfile.ZipFile(archive, "w") as made:
        made.writestr("esia/other.cer", OTHER.der)
        made.writestr("esia/current.cer", CERTIFICATE.der)
        made.writestr("esia/readme.txt", "not a certificate")
    result = run("verify-token", _token(), "--cert", str(archive), "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["kids"]) == 2
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "esia.cer").write_bytes(CERTIFICATE.der)
    result = run("verify-token", _token(), "--cert", str(folder))
    assert result.exit_code == 0, result.output
