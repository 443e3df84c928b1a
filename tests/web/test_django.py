"""What the Django app does beyond the shared scenarios (test_flows.py runs those over
Django's own server): Django's test client, its settings, its template engine, the
limits on what a request may carry, and its method and CSRF handling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from django.test import Client
from django.test.utils import override_settings

from mock_idp.server import RunningIdP
from sso_bridge.broker import Broker
from sso_bridge.errors import ConfigError
from sso_bridge.web.django import ENGINE, TEMPLATES
from sso_bridge.web.django.apps import auth
from web.support import TEACHER, World, field


@pytest.fixture
def world(mock_idp: RunningIdP, tmp_path: Path) -> Iterator[World]:
    served = World("django", mock_idp, tmp_path)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def client(world: World) -> Client:
    return Client(REMOTE_ADDR="127.0.0.1")


def test_the_test_client_logs_in_and_reaches_the_guarded_view(client: Client) -> None:
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert "sso_browser" in page.cookies
    assert page.headers["Cache-Control"] == "no-store"
    assert "nonce-" in page.headers["Content-Security-Policy"]
    form = {"step_id": field(page.text, "step_id"), "org": "sch1", "login": "smirnova"}
    back = client.post("/auth/local", {**form, "password": "Uchitel-2024"})
    assert back.status_code == 303, back.text
    grades = client.get("/grades")
    assert grades.status_code == 200
    assert f"grades of {TEACHER.account_id}" in grades.text
    saved = client.post("/grades", {"csrf_token": field(grades.text, "csrf_token"), "mark": "5"})
    assert saved.text == "saved mark=5"
    assert client.post("/grades", {"mark": "5"}).status_code == 403


def test_a_guarded_view_sends_to_the_login(client: Client) -> None:
    to_login = client.get("/grades?term=2")
    assert to_login.status_code == 302
    assert to_login.headers["Location"] == "/auth/login?next=%2Fgrades%3Fterm%3D2"
    assert "sso_browser" in to_login.cookies


def test_only_the_routes_methods_are_allowed(client: Client) -> None:
    refused = client.post("/auth/login")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET"
    assert client.put("/auth/local").status_code == 405
    assert client.get("/auth/local").status_code == 302  # a login form's address: to the login


def test_the_pages_come_through_djangos_template_engine(client: Client, tmp_path: Path) -> None:
    (tmp_path / "error.html").write_text("host error page: {{ code }} {{ t1('login_title') }}")
    engine = {**TEMPLATES, "DIRS": [str(tmp_path)]}
    bad = {"data": "%%%", "content_type": "application/x-www-form-urlencoded"}
    with override_settings(TEMPLATES=[engine]):
        refused = client.post("/auth/local", **bad)
    assert refused.status_code == 400
    assert refused.text == "host error page: web.bad_form Вход"
    assert TEMPLATES["NAME"] == ENGINE
    without = client.post("/auth/local", **bad)  # the bundled page again
    assert "web.bad_form" in without.text
    assert "host error page" not in without.text


@pytest.mark.parametrize(
    ("send", "code", "status"),
    [
        (
            lambda c: c.post("/auth/local", "a" * 5000, content_type="text/plain"),
            "form_too_large",
            413,
        ),
        (lambda c: c.get("/auth/login?" + "a=1&" * 300), "query_too_large", 414),
        (
            lambda c: c.post(
                "/auth/local", "%%%", content_type="application/x-www-form-urlencoded"
            ),
            "bad_form",
            400,
        ),
        (
            lambda c: c.get("/auth/login", headers={f"x-h{i}": "1" for i in range(120)}),
            "headers_too_large",
            431,
        ),
    ],
)
def test_requests_over_the_limits_are_refused(
    world: World, client: Client, send, code, status
) -> None:  # type: ignore[no-untyped-def]
    small = attrs.evolve(world.config, max_form_bytes=4096)
    with override_settings(SSO_BRIDGE={"BROKER": world.broker, "CONFIG": small}):
        answer = send(client)
    assert answer.status_code == status, answer.text[:300]
    assert f"web.{code}" in answer.text
    assert "Connection" not in answer.headers  # WSGI leaves it to the server


def test_a_multipart_form_within_the_limits_reaches_the_view(client: Client) -> None:
    page = client.get("/auth/login")
    form = {"step_id": field(page.text, "step_id"), "org": "sch1", "login": "smirnova"}
    back = client.post("/auth/local", {**form, "password": "Uchitel-2024"}, format="multipart")
    assert back.status_code == 303, back.text


def test_the_broker_comes_from_the_settings(world: World, client: Client) -> None:
    factory = f"{__name__}.{_broker_of_the_test.__name__}"
    _BROKERS[:] = [world.broker]
    with override_settings(SSO_BRIDGE={"BROKER": factory, "CONFIG": {"site_name": "Лицей"}}):
        assert auth().broker is world.broker
        assert auth().config.site_name == "Лицей"
    not_a_broker = {"BROKER": "not a broker".split}
    with override_settings(SSO_BRIDGE=not_a_broker), pytest.raises(ConfigError, match="BROKER"):
        auth()
    assert auth().broker is world.broker  # the test's own setting again


_BROKERS: list[Broker] = []


def _broker_of_the_test() -> Broker:
    return _BROKERS[0]
