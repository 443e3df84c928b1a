"""The school portal as the reference deployment runs it: seeded once (and again, changing
nothing) into PostgreSQL, the mock IdP alone, and two portal processes (one of them with
two workers) sharing PostgreSQL and Redis. A login begun on one instance ends on the other,
and the session it makes is good on both."""

from __future__ import annotations

import contextlib
import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from school_portal.seed import PEOPLE

from helpers.processes import run, wait_for
from mock_idp.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "examples" / "school_portal"
SITE = "http://site.test"
"""The portal's one public address: the test plays the balancer and picks the instance."""
ADMIN = "deploy-test-admin-token"
LINKED = next(p for p in PEOPLE if p.key == "linked")
SEEDED_LINKS = sum(len(p.linked) for p in PEOPLE if p.oid is not None)
"""The links the demo region starts with."""


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("SSO_BRIDGE_TEST_REDIS")
    if not url:
        pytest.skip("SSO_BRIDGE_TEST_REDIS is not set: no Redis server to test against")
    return url


@contextlib.contextmanager
def started(args: Sequence[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """``args`` running in the background (output to ``log``) until the block ends."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found is not None, f"no field {name!r} in:\n{page}"
    return html.unescape(found.group(1))


def _links(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM links").scalar_one())
    finally:
        engine.dispose()


def test_two_portal_processes_on_postgresql_and_redis_act_as_one(
    postgres_schema_url: str, redis_url: str, tmp_path: Path
) -> None:
    idp_port, port_a, port_b = free_port(), free_port(), free_port()
    idp_url = f"http://127.0.0.1:{idp_port}"
    env = {
        **os.environ,
        "SSO_BRIDGE_KEY": "5a" * 32,
        "PORTAL_SECRET": "6b" * 32,
        "MOCK_IDP_ADMIN_TOKEN": ADMIN,
        "PORTAL_DB": postgres_schema_url,
        "PYTHONUNBUFFERED": "1",
    }
    seed = [sys.executable, str(PORTAL / "seed.py"), "--idp-url", idp_url]
    first = run(seed, cwd=ROOT, env=env)
    assert first.returncode == 0, first.stderr
    assert f"{SEEDED_LINKS} new links" in first.stdout
    again = run(seed, cwd=ROOT, env=env)  # idempotent: nothing new the second time
    assert again.returncode == 0, again.stderr
    assert "0 new links" in again.stdout
    assert _links(postgres_schema_url) == SEEDED_LINKS

    idp_args = [str(PORTAL / "idp.py"), "--public-url", idp_url, "--base-url", SITE]
    serve = [str(PORTAL / "serve.py"), "--ephemeral", redis_url, "--idp-url", idp_url]
    serve += ["--base-url", SITE]
    with (
        started([*idp_args, "--port", str(idp_port)], env, tmp_path / "idp.log") as idp,
    ):
        deadline = time.monotonic() + 30
        wait_for(f"{idp_url}/.well-known/openid-configuration", idp, deadline)
        with (
            started(
                [*serve, "--port", str(port_a), "--workers", "2"], env, tmp_path / "a.log"
            ) as a,
            started([*serve, "--port", str(port_b)], env, tmp_path / "b.log") as b,
        ):
            deadline = time.monotonic() + 60
            site_a, site_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
            assert wait_for(f"{site_a}/", a, deadline).status_code == 302
            assert wait_for(f"{site_b}/", b, deadline).status_code == 302
            for site in (site_a, site_b):  # the probes the balancer and Compose use
                assert httpx.get(f"{site}/auth/healthz", timeout=10).status_code == 200
                ready = httpx.get(f"{site}/auth/readyz", timeout=10)
                assert ready.status_code == 200, ready.text
            # cookies are per host, not per port: one jar serves both instances
            with httpx.Client(timeout=20, follow_redirects=False) as browser:
                to_idp = browser.get(f"{site_a}/auth/login/esia")
                assert to_idp.status_code == 302, to_idp.text
                page = browser.get(to_idp.headers["location"])
                page = browser.post(
                    f"{idp_url}/login",
                    data={
                        "txn": _field(page.text, "txn"),
                        "login": LINKED.esia_login or "",
                        "password": LINKED.esia_password or "",
                    },
                )
                outbox = browser.get(f"{idp_url}/outbox", headers={"X-Mock-IdP-Admin": ADMIN})
                code = outbox.json()[-1]["code"]
                done = browser.post(
                    f"{idp_url}/login/code", data={"txn": _field(page.text, "txn"), "code": code}
                )
                assert done.status_code == 302, done.text
                back = urlsplit(done.headers["location"])
                assert f"{back.scheme}://{back.netloc}" == SITE
                # the login begun on A comes back to B
                answer = browser.get(f"{site_b}{back.path}?{back.query}")
                assert answer.status_code in (302, 303), answer.text
                assert answer.headers["location"] == "/diary"
                for site in (site_a, site_b, site_a):
                    diary = browser.get(f"{site}/diary")
                    assert diary.status_code == 200, diary.text
                    assert "Попова Вера" in diary.text  # his daughter's diary
                logout_form = browser.get(f"{site_b}/diary")
                token = _field(logout_form.text, "csrf_token")
                ended = browser.post(f"{site_b}/auth/logout", data={"csrf_token": token})
                assert ended.status_code in (302, 303), ended.text
                # ended on B, so gone on A too
                assert browser.get(f"{site_a}/diary").status_code == 302
