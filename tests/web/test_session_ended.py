"""A session ended from another device: its browser is sent to the login page, which says
so and, for a form it had just sent, that the form was not saved (nothing of it is kept:
after the next login it could be anyone's session). Over each framework."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from web.support import PASSWORD, World, field


def _second_browser(world: World) -> httpx.Client:
    other = httpx.Client(base_url=world.base_url, timeout=10, follow_redirects=False)
    page = other.get("/auth/login")
    form = {
        "step_id": field(page.text, "step_id"),
        "org": "sch1",
        "login": "smirnova",
        "password": PASSWORD,
    }
    assert other.post("/auth/local", data=form).status_code == 303
    return other


def _end_the_others(other: httpx.Client) -> None:
    settings = other.get("/auth/settings").text
    listed = re.findall(r'name="session_id" value="([^"]+)"', settings)
    token = other.cookies.get("sso_session")
    assert token is not None and len(listed) == 2, settings
    own = hashlib.sha256(token.encode()).hexdigest()
    (first,) = [session_id for session_id in listed if session_id != own]
    csrf = field(settings, "csrf_token")
    ended = other.post("/auth/sessions/revoke", data={"csrf_token": csrf, "session_id": first})
    assert ended.status_code == 303, ended.text


def test_a_form_sent_after_the_session_was_ended_elsewhere_is_not_kept(world: World) -> None:
    assert world.local_login().status_code == 303
    token = field(world.browser.get("/grades").text, "csrf_token")
    other = _second_browser(world)
    try:
        _end_the_others(other)
        assert other.get("/auth/settings").status_code == 200  # its own session lives on
    finally:
        other.close()
    sent = world.browser.post("/grades?class=7a", data={"csrf_token": token, "mark": "5"})
    assert sent.status_code == 303, sent.text
    to_login = urlsplit(sent.headers["location"])
    assert to_login.path == "/auth/login"
    assert parse_qs(to_login.query) == {"ended": ["elsewhere-unsaved"]}  # nothing kept
    page = world.browser.get(sent.headers["location"]).text
    assert "завершён с другого устройства" in page
    assert "не сохранена" in page
    opened = world.browser.get("/grades?term=2")  # the session cookie is gone now
    assert parse_qs(urlsplit(opened.headers["location"]).query) == {"next": ["/grades?term=2"]}
