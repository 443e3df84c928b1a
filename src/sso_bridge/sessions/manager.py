"""Issuing, validating, rotating and revoking sessions; CSRF tokens for forms.

A session token is 256 random bits, handed to the browser in base64url and stored only as
its SHA-256 (the store key, which is also the session id): a copy of the store does not
let anyone sign in. Validation is one store read in the normal case; the idle deadline is
pushed forward by a write at most once per ``touch_interval``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import attrs

from sso_bridge import base64url
from sso_bridge.address import ClientAddress, as_address
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import BridgeError, ConfigError, InvalidInput, StoreError
from sso_bridge.inline import Prefetched, refuse_blocking
from sso_bridge.model import IdpSession
from sso_bridge.sessions.checks import TOKEN_BYTES as _TOKEN_BYTES
from sso_bridge.sessions.checks import check_csrf_token, csrf_token
from sso_bridge.sessions.checks import check_login as _check_login
from sso_bridge.sessions.checks import session_id as _session_id
from sso_bridge.sessions.checks import text as _text
from sso_bridge.sessions.checks import unknown as _unknown
from sso_bridge.sessions.ended import EndedSessions
from sso_bridge.sessions.errors import (
    SessionEnded,
    SessionError,
    SessionExpired,
    SessionIpChanged,
)
from sso_bridge.sessions.idp_index import IdpIndex, Term, named_by
from sso_bridge.sessions.model import (
    Method,
    Session,
    read_session,
    session_from_bytes,
    session_to_bytes,
)
from sso_bridge.sessions.policy import SessionPolicy

__all__ = ["SESSION_KIND", "SessionManager", "SessionPolicy"]

SESSION_KIND: Final = "session"
"""The :class:`EphemeralStore` kind under which sessions are kept."""

_MIN_KEY_BYTES: Final = 32
_MAX_USER_AGENT: Final = 512


class SessionManager:
    """Sessions in an :class:`EphemeralStore` (kind ``"session"``, owner the account).

    ``csrf_key`` (at least 32 random bytes, kept secret and the same on every instance of
    the service) keys the CSRF tokens.
    """

    def __init__(self, store: EphemeralStore, policy: SessionPolicy, csrf_key: bytes) -> None:
        if not isinstance(csrf_key, bytes) or len(csrf_key) < _MIN_KEY_BYTES:
            raise ConfigError(
                f"the CSRF key must be at least {_MIN_KEY_BYTES} bytes", code="config.invalid"
            )
        self._store = store
        self._policy = policy
        self._csrf_key = csrf_key
        self._index = IdpIndex(store, policy.grace)
        self._ended = EndedSessions(store)

    @property
    def policy(self) -> SessionPolicy:
        return self._policy

    def start(
        self,
        account_id: str,
        *,
        ip: ClientAddress | str,
        user_agent: str | None,
        now: datetime,
        issuer: str | None = None,
        subject: str | None = None,
        accounts: Sequence[str] = (),
        not_on_or_after: datetime | None = None,
        second_factor: bool = False,
        method: Method = "federated",
        idp: IdpSession | None = None,
    ) -> tuple[str, Session]:
        """A new session after a login: its token (for the cookie) and the session.

        ``accounts`` are the other accounts the person may switch to; ``not_on_or_after``
        (the IdP's ``SessionNotOnOrAfter``) caps the absolute deadline. ``ip`` is the
        client address (its text form is still taken, and parsed); the session keeps its
        canonical text. The user agent is kept for listing (its first 512 characters; ""
        when the request had none). ``idp`` is the IdP's own session, for logging out there.
        """
        _check_login(account_id, issuer, subject, method, now)
        expires_at = now + self._policy.absolute_lifetime
        if not_on_or_after is not None:
            if not_on_or_after <= now:
                raise InvalidInput("not_on_or_after has already passed", code="input.invalid")
            expires_at = min(expires_at, not_on_or_after)
        offered = tuple(dict.fromkeys((account_id, *(_text("accounts", a) for a in accounts))))
        template = Session(
            session_id="",
            account_id=account_id,
            issuer=issuer,
            subject=subject,
            accounts=offered,
            ip=str(as_address(ip)),
            user_agent=(user_agent or "")[:_MAX_USER_AGENT],
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            idle_expires_at=now + self._policy.idle_timeout,
            second_factor=bool(second_factor),
            method=method,
            idp=idp if method == "federated" else None,
        )
        return self._issue(template, now)

    def validate(self, token: str | None, *, ip: ClientAddress | str, now: datetime) -> Session:
        """The live session of ``token`` used from the client address ``ip``.

        Raises ``session.missing`` (no or malformed token), ``session.unknown``,
        ``session.expired`` / ``session.idle_expired`` (:class:`SessionExpired`) or
        ``session.ip_changed`` (:class:`SessionIpChanged`, carrying both addresses; the
        session is ended). ``ip`` given as text is parsed (``input.bad_ip``).
        """
        address = as_address(ip)
        session_id = _session_id(token)
        session = self._live(session_id, now)
        if not self._policy.binding.same_client(session.address, address):
            refuse_blocking()  # ending it, the record and the alert: on a worker thread
            self._store.delete(SESSION_KIND, session_id)
            raise SessionIpChanged(session, address)
        if now - session.last_seen_at >= self._policy.touch_interval:
            session = attrs.evolve(
                session, last_seen_at=now, idle_expires_at=now + self._policy.idle_timeout
            )
            self._put(session, now)
        return session

    async def prefetch(self, token: str | None) -> Prefetched | None:
        """What :meth:`validate` of ``token`` reads, read without blocking, for a check on
        an event loop (:mod:`sso_bridge.inline`): nothing over an in-process store, the
        session's entry over a store that reads ahead (Redis); ``None`` when the check
        must run on a worker thread. A store fault is raised as :meth:`validate` raises it
        (``store.unavailable``), so that it is not waited for twice."""
        store = self._store
        if getattr(store, "in_process", False):
            return {}
        read_ahead = getattr(store, "read_ahead", None)
        if read_ahead is None:
            return None
        try:
            session_id = _session_id(token)
        except BridgeError:
            return {}  # refused before any read
        read = await read_ahead(SESSION_KIND, session_id)
        if read is None:
            return None
        return {(SESSION_KIND, session_id): read[1]}

    def rotate(
        self,
        token: str | None,
        *,
        now: datetime,
        account_id: str | None = None,
        second_factor: bool | None = None,
    ) -> tuple[str, Session]:
        """Replace the session's token with a new one; the old token stops working at once.

        Done after a login, after the second factor (``second_factor=True``) and to switch
        to another of ``session.accounts`` (``account_id``; else
        ``session.account_not_offered``). The creation time and absolute deadline carry
        over. Switching account clears ``second_factor`` unless it is given.
        """
        session_id = _session_id(token)
        current = self._live(session_id, now)
        target = current.account_id if account_id is None else account_id
        if target not in current.accounts:
            raise SessionError(
                "this session may not switch to that account", code="session.account_not_offered"
            )
        data = self._store.consume(SESSION_KIND, session_id, now)
        taken = None if data is None else session_from_bytes(session_id, data)
        if taken is None:  # rotated or revoked since the read above
            raise _unknown()
        if second_factor is None:
            second_factor = taken.second_factor and target == taken.account_id
        template = attrs.evolve(
            taken,
            account_id=target,
            last_seen_at=now,
            idle_expires_at=now + self._policy.idle_timeout,
            second_factor=second_factor,
        )
        issued = self._issue(template, now)
        # A validation that read the old entry before the consume may be writing it back
        # (a touch); deleting once more, after the new entry is stored, leaves that write
        # a window only if it took longer than this whole rotation.
        self._store.delete(SESSION_KIND, session_id)
        self._index.drop(session_id)
        return issued

    def revoke(
        self, session_id: str, *, reason: str | None = None, now: datetime | None = None
    ) -> bool:
        """End the session with this id; True if there was one. With ``reason``
        (``"elsewhere"``, ``"idp"``) and ``now``, its browser is told why (see
        :mod:`sso_bridge.sessions.ended`)."""
        self._index.drop(session_id)
        if reason is not None and now is not None:
            data = self._store.get(SESSION_KIND, session_id, now)
            session = None if data is None else session_from_bytes(session_id, data)
            if session is not None:
                self._ended.mark(session_id, reason, session.expires_at, now)
        return self._store.delete(SESSION_KIND, session_id)

    def revoke_token(self, token: str | None, *, now: datetime) -> Session | None:
        """End the session of ``token`` (a logout); the session it was, or None."""
        try:
            session_id = _session_id(token)
        except SessionError:
            return None
        data = self._store.consume(SESSION_KIND, session_id, now)
        self._index.drop(session_id)
        return None if data is None else session_from_bytes(session_id, data)

    def end_named(
        self,
        issuer: str,
        term: Term,
        value: str,
        now: datetime,
        *,
        subject: str | None = None,
        name_id: str | None = None,
    ) -> list[Session]:
        """End the sessions that the IdP ``issuer`` names ``term`` = ``value`` (its ``sid``
        or SAML SessionIndex, the subject, the SAML NameID), and that also have ``subject``
        and ``name_id`` where given: a logout the IdP started. The sessions ended, oldest
        first."""
        ended = []
        for session_id in self._index.session_ids(term, issuer, value, now):
            data = self._store.get(SESSION_KIND, session_id, now)
            session = None if data is None else session_from_bytes(session_id, data)
            if session is None or not named_by(session, issuer, term, value):
                continue
            if (subject is not None and not named_by(session, issuer, "sub", subject)) or (
                name_id is not None and not named_by(session, issuer, "name_id", name_id)
            ):
                continue
            if self._store.consume(SESSION_KIND, session_id, now) is not None:
                ended.append(session)
                self._ended.mark(session_id, "idp", session.expires_at, now)
            self._index.drop(session_id)
        return sorted(ended, key=lambda s: (s.created_at, s.session_id))

    def revoke_account(self, account_id: str, *, now: datetime | None = None) -> int:
        """End every session acting as ``account_id``; how many there were. With ``now``
        their browsers are told it was done from elsewhere."""
        if now is not None:
            for session in self.sessions_of(account_id, now):
                self._ended.mark(session.session_id, "elsewhere", session.expires_at, now)
        return self._store.delete_owned_by(SESSION_KIND, account_id)

    def erase_account(
        self, account_id: str, now: datetime, *, offered_by: Sequence[str] = ()
    ) -> int:
        """Forget ``account_id`` (an erasure): end every session acting as it, their IdP
        index entries with them, and take it out of the switchable ``accounts`` of the
        sessions of ``offered_by`` (the other accounts of the same person); how many
        sessions ended. No "ended elsewhere" mark is left."""
        for session_id, _ in self._store.owned_by(SESSION_KIND, account_id, now):
            self._index.drop(session_id)
        ended = self._store.delete_owned_by(SESSION_KIND, account_id)
        for other in dict.fromkeys(offered_by):
            for key, data in self._store.owned_by(SESSION_KIND, other, now):
                session = session_from_bytes(key, data)
                if session is not None and account_id in session.accounts:
                    kept = tuple(a for a in session.accounts if a != account_id)
                    self._put(attrs.evolve(session, accounts=kept), now)
        return ended

    def erase_subject(self, issuer: str, subject: str, now: datetime) -> int:
        """End every session that the federated identity (issuer, subject) started, and
        their IdP index entries (an erasure); how many ended."""
        ended = 0
        for session_id in self._index.session_ids("sub", issuer, subject, now):
            data = self._store.get(SESSION_KIND, session_id, now)
            session = None if data is None else session_from_bytes(session_id, data)
            if session is not None and named_by(session, issuer, "sub", subject):
                ended += self._store.delete(SESSION_KIND, session_id)
                self._index.drop(session_id)
        return ended

    def sessions_of(self, account_id: str, now: datetime) -> list[Session]:
        """The live sessions acting as ``account_id``, oldest first."""
        found = []
        for key, data in self._store.owned_by(SESSION_KIND, account_id, now):
            session = session_from_bytes(key, data)
            if session is not None and session.account_id == account_id and now < session.ends_at():
                found.append(session)
        return sorted(found, key=lambda s: (s.created_at, s.session_id))

    def csrf_token(self, session: Session) -> str:
        """The CSRF token for forms of ``session`` (it changes when the token rotates)."""
        return self._csrf(b"session\x00" + session.session_id.encode())

    def check_csrf(self, session: Session, value: str | None) -> None:
        """Accept ``value`` as the CSRF token of ``session``, or ``session.csrf_invalid``."""
        self._check(self.csrf_token(session), value)

    def csrf_token_for(self, binding: str) -> str:
        """The CSRF token for forms shown before login, bound to a browser id."""
        return self._csrf(b"browser\x00" + _text("binding", binding).encode())

    def check_csrf_for(self, binding: str, value: str | None) -> None:
        """Accept ``value`` as the CSRF token of ``binding``, or ``session.csrf_invalid``."""
        self._check(self.csrf_token_for(binding), value)

    def _csrf(self, message: bytes) -> str:
        return csrf_token(self._csrf_key, message)

    _check = staticmethod(check_csrf_token)

    def _live(self, session_id: str, now: datetime) -> Session:
        data = self._store.get(SESSION_KIND, session_id, now)
        session = None if data is None else read_session(session_id, data)
        if session is None:
            reason = self._ended.reason(session_id, now)
            raise _unknown() if reason is None else SessionEnded(reason)
        if now >= session.expires_at:
            raise SessionExpired("the session has ended", session=session, code="session.expired")
        if now >= session.idle_expires_at:
            raise SessionExpired(
                "the session has ended for want of use",
                session=session,
                code="session.idle_expired",
            )
        return session

    def _issue(self, template: Session, now: datetime) -> tuple[str, Session]:
        token = base64url.encode(secrets.token_bytes(_TOKEN_BYTES))
        session = attrs.evolve(template, session_id=hashlib.sha256(token.encode()).hexdigest())
        stored = self._store.add(
            SESSION_KIND,
            session.session_id,
            session_to_bytes(session),
            session.ends_at() + self._policy.grace,
            now,
            owner=session.account_id,
        )
        if not stored:
            raise StoreError("a new session id is already in use", code="store.error")
        try:
            self._index.enter(session, now)
        except BaseException:
            # a session the IdP's logout could not find must not exist
            with contextlib.suppress(Exception):
                self._store.delete(SESSION_KIND, session.session_id)
            raise
        return token, session

    def _put(self, session: Session, now: datetime) -> None:
        self._store.put(
            SESSION_KIND,
            session.session_id,
            session_to_bytes(session),
            session.ends_at() + self._policy.grace,
            now,
            owner=session.account_id,
        )
