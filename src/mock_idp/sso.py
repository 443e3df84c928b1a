"""The mock IdP's own sessions: a browser that logged in at the IdP stays logged in there
(single sign-on) until it logs out, the session ends or a relying party asks for a fresh
authentication.

A session belongs to one browser (the id in the IdP's browser cookie, see
:class:`mock_idp.routes.pages.BrowserBinding`) and one person. Its ``sid`` is what the
relying parties see: the OpenID Connect ``sid`` claim (ID tokens and logout tokens) and the
SAML ``SessionIndex``. ``participants`` are the relying parties that got a login out of it
(OIDC client ids, SAML SP entity ids), the ones a logout at the IdP tells.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

import attrs

__all__ = [
    "DEFAULT_LIFETIME",
    "IdpSession",
    "IdpSessions",
    "Reauthentication",
    "parse_max_age",
    "reauthentication",
    "session_acr",
]

DEFAULT_LIFETIME = timedelta(hours=8)
"""How long an IdP session lasts after its authentication."""


@attrs.define
class IdpSession:
    """One browser's login at the IdP."""

    sid: str
    browser: str
    person_oid: int
    auth_time: datetime
    expires_at: datetime
    acr: str | None = None
    participants: set[str] = attrs.field(factory=set)


class IdpSessions:
    """The live IdP sessions, by sid and by browser; safe across threads."""

    def __init__(self, lifetime: timedelta = DEFAULT_LIFETIME) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._by_sid: dict[str, IdpSession] = {}
        self._by_browser: dict[str, str] = {}

    def open(
        self, browser: str, person_oid: int, now: datetime, *, acr: str | None = None
    ) -> IdpSession:
        """A new session of ``browser`` for the person, authenticated at ``now``; any
        earlier session of the browser ends (a new login replaces it)."""
        session = IdpSession(
            sid=secrets.token_hex(16),  # the shape of ESIA's urn:esia:sid
            browser=browser,
            person_oid=person_oid,
            auth_time=now,
            expires_at=now + self.lifetime,
            acr=acr,
        )
        with self._lock:
            old = self._by_browser.get(browser)
            if old is not None:
                self._by_sid.pop(old, None)
            self._by_sid[session.sid] = session
            self._by_browser[browser] = session.sid
        return session

    def renew(self, sid: str, now: datetime, *, acr: str | None = None) -> IdpSession | None:
        """The same person authenticated again in session ``sid``: a new ``auth_time`` and
        lifetime, the same sid and participants; None when the session is gone."""
        with self._lock:
            session = self._by_sid.get(sid)
            if session is None:
                return None
            session.auth_time = now
            session.expires_at = now + self.lifetime
            session.acr = acr
            return session

    def of_person(self, person_oid: int, now: datetime) -> list[IdpSession]:
        """The person's live sessions."""
        with self._lock:
            return [
                s
                for s in self._by_sid.values()
                if s.person_oid == person_oid and s.expires_at > now
            ]

    def current(self, browser: str, now: datetime) -> IdpSession | None:
        """The browser's live session, or None."""
        with self._lock:
            sid = self._by_browser.get(browser)
            session = self._by_sid.get(sid) if sid is not None else None
            if session is None or session.expires_at <= now:
                return None
            return session

    def get(self, sid: str, now: datetime) -> IdpSession | None:
        """The live session ``sid``, or None."""
        with self._lock:
            session = self._by_sid.get(sid)
            if session is None or session.expires_at <= now:
                return None
            return session

    def joined(self, sid: str, participant: str) -> None:
        """Note that ``participant`` (a client id, an SP entity id) logged in through ``sid``."""
        with self._lock:
            session = self._by_sid.get(sid)
            if session is not None:
                session.participants.add(participant)

    def end(self, sid: str) -> IdpSession | None:
        """End session ``sid``; the session it was, or None."""
        with self._lock:
            session = self._by_sid.pop(sid, None)
            if session is not None and self._by_browser.get(session.browser) == sid:
                del self._by_browser[session.browser]
            return session

    def end_browser(self, browser: str) -> IdpSession | None:
        """End the browser's session; the session it was, or None."""
        with self._lock:
            sid = self._by_browser.pop(browser, None)
            return self._by_sid.pop(sid, None) if sid is not None else None

    def end_person(self, person_oid: int) -> list[IdpSession]:
        """End every session of the person (on every browser); the sessions ended."""
        with self._lock:
            ended = [s for s in self._by_sid.values() if s.person_oid == person_oid]
            for session in ended:
                del self._by_sid[session.sid]
                if self._by_browser.get(session.browser) == session.sid:
                    del self._by_browser[session.browser]
            return ended

    def clear(self) -> None:
        """End every session (a test's reset)."""
        with self._lock:
            self._by_sid.clear()
            self._by_browser.clear()


def session_acr(level: str) -> str:
    """The ``acr`` the mock reports for a login of an account at ESIA ``level``
    (``simplified``, ``standard``, ``confirmed``): every login is password + second factor,
    so what differs is how far the account was confirmed."""
    return f"urn:esia:loa:{level}"


@attrs.frozen
class Reauthentication:
    """What an authorization request asks of the browser's session."""

    fresh: bool  # the person must authenticate again (prompt=login, max_age passed)
    passive: bool  # no login page may be shown (OIDC prompt=none, SAML IsPassive)


def parse_max_age(value: str | None) -> int | None:
    """OIDC ``max_age``: a whole number of seconds, 0 or more; None when absent.

    Raises ValueError for anything else."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise ValueError("max_age must be a whole number of seconds")
    return int(value)


def reauthentication(
    session: IdpSession | None,
    now: datetime,
    *,
    prompt: str = "",
    max_age: int | None = None,
    force: bool = False,
) -> Reauthentication:
    """Whether ``session`` may answer a request at once.

    ``prompt`` is OIDC's space-separated list (``login``, ``none``; ``consent`` and
    ``select_account`` change nothing here); ``max_age=0`` always asks for a fresh
    authentication, otherwise one older than ``max_age`` seconds is not enough; ``force``
    is SAML's ForceAuthn. Raises ValueError when ``none`` is combined with another value.
    """
    asked = set(prompt.split())
    if "none" in asked and len(asked) > 1:
        raise ValueError("prompt=none cannot be combined with other values")
    fresh = force or "login" in asked
    if session is not None and max_age is not None:
        fresh = fresh or max_age == 0 or now - session.auth_time > timedelta(seconds=max_age)
    return Reauthentication(fresh=fresh or session is None, passive="none" in asked)
