"""Marks left by sessions that were ended on purpose from elsewhere, so that the browser
still holding the token is told why it was signed out (``session.ended_elsewhere``)
instead of meeting a plain unknown session, and knows that a form it sends now is not
kept. A mark lasts no longer than the session would have, and says only why it ended."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sso_bridge.ephemeral import EphemeralStore

__all__ = ["ENDED_KIND", "REASONS", "EndedSessions"]

ENDED_KIND: Final = "session_ended"
"""The :class:`EphemeralStore` kind of the marks, keyed by session id."""

REASONS: Final = frozenset({"elsewhere", "idp"})
"""``elsewhere``: from another of the person's devices (the sessions page, "log out
everywhere"); ``idp``: by the state portal (back-channel or IdP-initiated logout)."""

_LONGEST: Final = timedelta(days=1)


class EndedSessions:
    """The marks of sessions ended from elsewhere."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    def mark(self, session_id: str, reason: str, until: datetime, now: datetime) -> None:
        """Remember that session ``session_id`` was ended for ``reason``, until the time the
        session would have ended anyway (a day at most)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        expires_at = min(until, now + _LONGEST)
        if expires_at > now:
            self._store.put(ENDED_KIND, session_id, reason.encode(), expires_at, now)

    def reason(self, session_id: str, now: datetime) -> str | None:
        """Why session ``session_id`` was ended from elsewhere, if it was (and recently)."""
        found = self._store.get(ENDED_KIND, session_id, now)
        reason = None if found is None else found.decode("ascii", "replace")
        return reason if reason in REASONS else None
