"""Set-Cookie headers: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.sessions import (
    BrowserIds,
    CookieSettings,
    clear_cookie_header,
    new_browser_id,
    set_cookie_header,
)


def attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}


def test_secure_session_cookie() -> None:
    settings = CookieSettings()
    header = set_cookie_header(settings, settings.session_name, "tok-123")
    assert header.startswith("__Host-sso_session=tok-123;")
    attrs = attributes(header)
    assert attrs == {"path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
    assert "domain" not in attrs
    assert "max-age" not in attrs  # ends with the browser


def test_names_as_the_browser_sends_them_back() -> None:
    settings = CookieSettings()
    assert settings.session_cookie == "__Host-sso_session"
    assert settings.browser_cookie == "__Host-sso_browser"
    header = set_cookie_header(settings, settings.browser_cookie, "b", max_age=3600)
    assert header.startswith("__Host-sso_browser=b;")  # the prefix is not doubled
    assert attributes(header)["max-age"] == "3600"


def test_the_header_parses_as_a_cookie() -> None:
    settings = CookieSettings()
    header = set_cookie_header(settings, settings.session_name, "abc_DEF-123", max_age=60)
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie["__Host-sso_session"]
    assert morsel.value == "abc_DEF-123"
    assert morsel["path"] == "/"
    assert morsel["secure"] is True
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"


def test_development_settings_drop_prefix_and_secure() -> None:
    settings = CookieSettings(secure=False)
    assert settings.session_cookie == "sso_session"
    header = set_cookie_header(settings, settings.session_name, "v")
    assert header.startswith("sso_session=v;")
    assert attributes(header) == {"path": "/", "httponly": "", "samesite": "Lax"}


def test_clear_cookie() -> None:
    settings = CookieSettings()
    header = clear_cookie_header(settings, settings.session_name)
    assert header.startswith("__Host-sso_session=;")
    attrs = attributes(header)
    assert attrs["max-age"] == "0"
    assert attrs["expires"].endswith("1970 00:00:00 GMT")
    assert {"secure", "httponly", "path", "samesite"} <= attrs.keys()


def test_custom_names() -> None:
    settings = CookieSettings(session_name="s", browser_name="b")
    assert set_cookie_header(settings, settings.session_name, "x").startswith("__Host-s=x;")


@pytest.mark.parametrize("value", ["a b", "a;b", 'a"b', "a,b", "a\\b", "ж", "a\r\nSet-Cookie: x=y"])
def test_bad_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        set_cookie_header(CookieSettings(), "sso_session", value)


@pytest.mark.parametrize("name", ["", "a b", "a=b", "a;b", "имя"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        set_cookie_header(CookieSettings(secure=False), name, "v")
    with pytest.raises(InvalidInput):
        clear_cookie_header(CookieSettings(secure=False), name)


@pytest.mark.parametrize("max_age", [-1, 1.5, True])
def test_bad_max_age(max_age: object) -> None:
    with pytest.raises(InvalidInput):
        set_cookie_header(CookieSettings(), "sso_session", "v", max_age=max_age)  # type: ignore[arg-type]


def test_browser_ids_are_256_random_bits() -> None:
    ids = {new_browser_id() for _ in range(100)}
    assert len(ids) == 100
    for browser_id in ids:
        assert len(base64url.decode(browser_id)) == 32
        set_cookie_header(CookieSettings(), "sso_browser", browser_id)  # a valid cookie value


def test_only_browser_ids_this_server_issued_are_accepted() -> None:
    ids = BrowserIds(b"k" * 32)
    browser_id, value = ids.issue()
    assert ids.verify(value) == browser_id
    set_cookie_header(CookieSettings(), "sso_browser", value)  # a valid cookie value
    tag = value.split(".")[1]
    forged_tag = ("A" if tag[0] != "A" else "B") + tag[1:]
    planted = [
        browser_id,  # the bare id, as the cookie once held it
        new_browser_id(),
        f"{browser_id}.{forged_tag}",
        f"{new_browser_id()}.{tag}",  # another id under this id's tag
        BrowserIds(b"o" * 32).issue()[1],  # issued under another key
        value + "x",
        "",
        None,
    ]
    for cookie in planted:
        assert ids.verify(cookie) is None, cookie
    assert ids.issue()[0] != browser_id
    with pytest.raises(InvalidInput):
        BrowserIds(b"short")
