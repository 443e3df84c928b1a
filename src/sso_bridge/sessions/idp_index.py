"""Finding sessions by what an IdP knows of them, for the logouts the IdP starts.

An IdP that ends a session names it by its own terms: the OpenID Connect ``sid`` or
``sub`` of a back-channel logout token, the SAML ``SessionIndex`` or ``NameID`` of a
LogoutRequest. Each session started from a federated login is entered here under each of
those it has, as an empty entry of kind ``"session_idp"`` whose owner is a hash of
(what, issuer, value) and whose key is (what, session id): listing an owner gives the
session ids. Entries live as long as the session's absolute deadline allows (plus the
grace); one left behind by a rotated or ended session points at nothing and is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final, Literal

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.sessions.model import Session

__all__ = ["INDEX_KIND", "IdpIndex", "Term", "named_by"]

INDEX_KIND: Final = "session_idp"
"""The :class:`EphemeralStore` kind of the index entries."""

Term = Literal["sid", "sub", "name_id"]
"""What the IdP names a session by: its session id, the subject, the SAML NameID."""


def _owner(term: Term, issuer: str, value: str) -> str:
    joined = "\x00".join((term, issuer, value)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()


def _terms(session: Session) -> Iterator[tuple[Term, str]]:
    if session.subject:
        yield "sub", session.subject
    idp = session.idp
    if idp is not None and idp.sid:
        yield "sid", idp.sid
    if idp is not None and idp.name_id:
        yield "name_id", idp.name_id


class IdpIndex:
    """The index entries of sessions, in the sessions' own store."""

    def __init__(self, store: EphemeralStore, grace: timedelta) -> None:
        self._store = store
        self._grace = grace

    def enter(self, session: Session, now: datetime) -> None:
        """Enter a new session under each of its IdP's terms (none for a local login)."""
        if session.issuer is None:
            return
        expires_at = session.expires_at + self._grace
        for term, value in _terms(session):
            self._store.put(
                INDEX_KIND,
                f"{term}:{session.session_id}",
                b"",
                expires_at,
                now,
                owner=_owner(term, session.issuer, value),
            )

    def drop(self, session_id: str) -> None:
        """Remove the entries of a session that ended or changed its id."""
        for term in ("sub", "sid", "name_id"):
            self._store.delete(INDEX_KIND, f"{term}:{session_id}")

    def session_ids(self, term: Term, issuer: str, value: str, now: datetime) -> list[str]:
        """The ids of sessions entered under ``term`` = ``value`` of ``issuer``."""
        prefix = f"{term}:"
        found = self._store.owned_by(INDEX_KIND, _owner(term, issuer, value), now)
        return [key.removeprefix(prefix) for key, _ in found if key.startswith(prefix)]


def named_by(session: Session, issuer: str, term: Term, value: str) -> bool:
    """Whether ``session`` is the one its IdP ``issuer`` names ``term`` = ``value``."""
    if session.issuer != issuer:
        return False
    if term == "sub":
        return session.subject == value
    idp = session.idp
    return idp is not None and (idp.sid if term == "sid" else idp.name_id) == value
