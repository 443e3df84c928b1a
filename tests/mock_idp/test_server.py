"""The mock IdP as people run it: the pytest fixture, `mock-idp serve`, `mock-idp users`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from mock_idp.app import MockIdP
from mock_idp.cli import SAMPLE_CONFIG, main
from mock_idp.keys import SigningKey
from mock_idp.saml_idp import SamlSigningKey
from mock_idp.server import RunningIdP, free_port
from sso_bridge.errors import InvalidInput


def test_fixture_serves_over_real_http(mock_idp: RunningIdP) -> None:
    meta = httpx.get(mock_idp.base_url + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == mock_idp.base_url + "/"
    assert mock_idp.base_url.startswith("http://127.0.0.1:")
    mock_idp.idp.inject("expired")
    assert mock_idp.idp.provider.faults


def test_fixture_resets_between_tests(mock_idp: RunningIdP) -> None:
    assert mock_idp.idp.provider.faults == []  # the previous test's fault is gone
    assert httpx.get(mock_idp.base_url + "/outbox", headers=mock_idp.admin_headers).json() == []


def test_the_fixture_gives_the_admin_token(
    mock_idp: RunningIdP, mock_idp_admin_headers: dict[str, str]
) -> None:
    assert mock_idp_admin_headers == mock_idp.admin_headers == mock_idp.idp.admin_headers
    assert httpx.post(mock_idp.base_url + "/admin/reset").status_code == 401
    reset = httpx.post(mock_idp.base_url + "/admin/reset", headers=mock_idp_admin_headers)
    assert reset.json() == {"ok": True}


def test_a_running_idp_takes_a_given_admin_token() -> None:
    with RunningIdP(SAMPLE_CONFIG, admin_token="g" * 40) as running:
        assert running.admin_token == "g" * 40
        answer = httpx.get(
            running.base_url + "/outbox", headers={"Authorization": "Bearer " + "g" * 40}
        )
        assert answer.json() == []


def test_keys_persist_across_restarts(tmp_path: Path) -> None:
    with RunningIdP(SAMPLE_CONFIG, state_dir=tmp_path / "state") as first:
        keys = httpx.get(first.base_url + "/jwks").json()
    with RunningIdP(SAMPLE_CONFIG, state_dir=tmp_path / "state") as second:
        assert httpx.get(second.base_url + "/jwks").json() == keys


def test_serve_command(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", MOCK_IDP_ADMIN_TOKEN="t" * 40)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_idp.cli",
            "serve",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                meta = httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "mock-idp serve did not come up"
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.1)
        assert meta.json()["issuer"] == f"http://127.0.0.1:{port}/"
        assert (tmp_path / "state" / "keys.json").exists()
        outbox = f"http://127.0.0.1:{port}/outbox"
        assert httpx.get(outbox).status_code == 401
        assert httpx.get(outbox, headers={"X-Mock-IdP-Admin": "t" * 40}).json() == []
    finally:
        process.terminate()
        process.wait(10)


def test_users_add_and_list(tmp_path: Path) -> None:
    config = tmp_path / "people.yaml"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "users",
            "add",
            "--config",
            str(config),
            "--oid",
            "7",
            "--login",
            "p@example.org",
            "--password",
            "x",
            "--last-name",
            "Петров",
            "--first-name",
            "Пётр",
            "--birth-date",
            "01.02.1990",
            "--phone",
            "+7 900 123-45-67",
            "--snils",
            "112-233-445 95",
        ],
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["users", "list", "--config", str(config)])
    assert "7\tp@example.org\tПетров Пётр\t01.02.1990\tconfirmed\tsms" in listed.output
    bad = runner.invoke(
        main,
        [
            "users",
            "add",
            "--config",
            str(config),
            "--oid",
            "8",
            "--login",
            "q@example.org",
            "--password",
            "x",
            "--last-name",
            "А",
            "--first-name",
            "Б",
            "--birth-date",
            "1990/02/01",
        ],
    )
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: mock_idp.bad_person:")


def test_keys_given_in_the_config(tmp_path: Path) -> None:
    rsa_key = SigningKey.generate("RS256")
    saml_key = SamlSigningKey.generate("given")
    config = tmp_path / "idp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "keys": {
                    "oidc": [{"alg": "RS256", "private_key_pem": rsa_key.private_pem().decode()}],
                    "saml": {
                        "private_key_pem": saml_key.key_pem().decode(),
                        "certificate_pem": saml_key.certificate_pem().decode(),
                    },
                }
            }
        ),
        encoding="utf-8",
    )
    idp = MockIdP.from_config(config, "http://idp.test")
    assert idp.provider.keys.active("RS256").kid == rsa_key.kid
    assert saml_key.certificate_body() in idp.saml.metadata()
    config.write_text(
        yaml.safe_dump(
            {
                "keys": {
                    "oidc": [{"alg": "ES256", "private_key_pem": rsa_key.private_pem().decode()}]
                }
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as exc:
        MockIdP.from_config(config, "http://idp.test")
    assert exc.value.code == "mock_idp.bad_key"
