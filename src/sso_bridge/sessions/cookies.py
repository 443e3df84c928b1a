"""``Set-Cookie`` headers for the session and browser-id cookies.

With ``secure=True`` (the default, and the only setting for anything reachable over a
network) a cookie is named with the ``__Host-`` prefix and sent with ``Secure``: browsers
then accept it only over HTTPS, for this host alone (no ``Domain``) and for ``Path=/``, so
neither a sibling subdomain nor plain HTTP can plant or read it. Every cookie is
``HttpOnly`` (no script reads it) and ``SameSite=Lax`` (not sent on cross-site form posts).
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Final

import attrs

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput

__all__ = [
    "HOST_PREFIX",
    "BrowserIds",
    "CookieSettings",
    "clear_cookie_header",
    "new_browser_id",
    "set_cookie_header",
]

HOST_PREFIX: Final = "__Host-"
_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 7230 token
_VALUE: Final = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265 cookie-octets
_EXPIRED: Final = "Thu, 01 Jan 1970 00:00:00 GMT"


@attrs.frozen
class CookieSettings:
    """Names of the session and browser-id cookies, and whether they are ``Secure``.

    ``secure=False`` drops both the ``__Host-`` prefix and ``Secure``, so that a browser
    keeps the cookies over plain ``http://localhost``. It is meant for local development
    only: over a network it lets anyone on the path read and set the session cookie.
    """

    secure: bool = True
    session_name: str = "sso_session"
    browser_name: str = "sso_browser"

    def full_name(self, name: str) -> str:
        """The cookie's name as sent: ``name`` with the ``__Host-`` prefix when secure."""
        if self.secure and not name.startswith(HOST_PREFIX):
            return HOST_PREFIX + name
        return name

    @property
    def session_cookie(self) -> str:
        """The full name of the session cookie, as the browser sends it back."""
        return self.full_name(self.session_name)

    @property
    def browser_cookie(self) -> str:
        """The full name of the browser-id cookie, as the browser sends it back."""
        return self.full_name(self.browser_name)


def _attributes(settings: CookieSettings) -> str:
    return "; Path=/" + ("; Secure" if settings.secure else "") + "; HttpOnly; SameSite=Lax"


def _name(settings: CookieSettings, name: str) -> str:
    full = settings.full_name(name)
    if not _NAME.fullmatch(full):
        raise InvalidInput(f"not a cookie name: {name[:64]!r}", code="input.invalid")
    return full


def set_cookie_header(
    settings: CookieSettings, name: str, value: str, *, max_age: int | None = None
) -> str:
    """The ``Set-Cookie`` value that sets cookie ``name`` (the prefix is added when
    secure); without ``max_age`` (seconds) it lasts until the browser is closed."""
    if not _VALUE.fullmatch(value):
        raise InvalidInput("a cookie value holds characters it may not", code="input.invalid")
    lifetime = ""
    if max_age is not None:
        if type(max_age) is not int or max_age < 0:
            raise InvalidInput("max_age must be a non-negative integer", code="input.invalid")
        lifetime = f"; Max-Age={max_age}"
    return f"{_name(settings, name)}={value}{lifetime}{_attributes(settings)}"


def clear_cookie_header(settings: CookieSettings, name: str) -> str:
    """The ``Set-Cookie`` value that makes the browser drop cookie ``name``."""
    return f"{_name(settings, name)}=; Max-Age=0; Expires={_EXPIRED}{_attributes(settings)}"


def new_browser_id() -> str:
    """A fresh browser id (256 random bits, base64url) for the browser-id cookie, which
    binds the steps before login (CSRF tokens, kept requests) to one browser."""
    return base64url.encode(secrets.token_bytes(32))


_RANDOM_ID: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class BrowserIds:
    """Browser ids that only this server can issue: a random id and an HMAC-SHA256 tag
    over it under ``key`` (``<id>.<tag>``, 87 characters).

    A browser-id cookie binds the steps before login to one browser, so it must not be
    chosen by anyone else: a value without this server's tag (planted in a victim's
    browser by a sibling site, a script or by hand) is ignored and replaced. The id is
    replaced again at login, so nothing started before it carries over.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise InvalidInput("the browser-id key needs 32 bytes or more", code="input.invalid")
        self._key = key

    def _tag(self, browser_id: str) -> str:
        return base64url.encode(
            hmac.digest(self._key, b"browser-id:" + browser_id.encode(), "sha256")
        )

    def issue(self) -> tuple[str, str]:
        """A new browser id and the cookie value that carries it."""
        browser_id = new_browser_id()
        return browser_id, f"{browser_id}.{self._tag(browser_id)}"

    def verify(self, value: str | None) -> str | None:
        """The browser id in a cookie value this server issued, or None for any other."""
        browser_id, dot, tag = (value or "").partition(".")
        if not dot or not _RANDOM_ID.fullmatch(browser_id) or len(tag) != 43:
            return None
        return browser_id if hmac.compare_digest(tag, self._tag(browser_id)) else None
