"""The session value and its stored form.

A session is stored as a compact JSON array under the SHA-256 of its token; times are
whole microseconds since the Unix epoch, so that reading one back parses no date text.
A session that knows the IdP's own session (for logging out there) has a fourteenth
member, ``[provider, sid, name_id, name_id_format, id_token]``; the thirteen-member rows
written before it existed still read. Anything that does not decode to exactly one of
those shapes is treated as no session at all.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import attrs

from sso_bridge.address import ClientAddress, parse_address
from sso_bridge.model import IdpSession

__all__ = [
    "METHODS",
    "Method",
    "Session",
    "read_session",
    "session_from_bytes",
    "session_to_bytes",
]

Method = Literal["federated", "local"]
METHODS: Final[frozenset[str]] = frozenset({"federated", "local"})

_FORMAT: Final = 1
_MAX_STORED_BYTES: Final = 16 * 1024
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_METHOD_NAMES: Final = ("federated", "local")  # a tuple: `in` on it never hashes the value
MAX_ID_TOKEN_CHARS: Final = 8 * 1024
"""A longer ID token is not kept for ``id_token_hint`` (the logout then goes without it)."""
_decode: Final = json.JSONDecoder().decode
_encode: Final = json.JSONEncoder(separators=(",", ":")).encode
_MAX_KEPT_BYTES: Final = 4096  # a session with an ID token for logout takes 1-3 KiB
_KEPT_DECODED: Final = 2048


@attrs.frozen
class Session:
    """A signed-in browser: who it acts as, where from, and until when.

    ``session_id`` is the hex SHA-256 of the session token; the token itself is known only
    to the browser. ``accounts`` are the local accounts the person may switch to without
    logging in again (the current one among them). ``expires_at`` is the absolute deadline
    (already capped by the IdP's ``SessionNotOnOrAfter``), ``idle_expires_at`` the one that
    moves forward while the session is used.
    """

    session_id: str
    account_id: str
    issuer: str | None
    subject: str | None
    accounts: tuple[str, ...]
    ip: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    second_factor: bool
    method: Method
    idp: IdpSession | None = None
    """The IdP's session behind a federated login, for logging out there (None: unknown)."""

    @property
    def address(self) -> ClientAddress:
        """The client address the session is bound to (``ip`` is its canonical text)."""
        return parse_address(self.ip)

    def ends_at(self) -> datetime:
        """The earlier of the absolute and the idle deadline."""
        return min(self.expires_at, self.idle_expires_at)


def micros(moment: datetime) -> int:
    """``moment`` (timezone-aware) as whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def _moment(value: int) -> datetime:
    # exact for every microsecond up to the year 2242: the float's error stays below 0.5 µs
    return datetime.fromtimestamp(value / 1e6, UTC)


def session_to_bytes(session: Session) -> bytes:
    """The stored form of ``session``; its id is the store key and is not repeated."""
    row = [
        _FORMAT,
        session.account_id,
        session.issuer,
        session.subject,
        list(session.accounts),
        session.ip,
        session.user_agent,
        micros(session.created_at),
        micros(session.last_seen_at),
        micros(session.expires_at),
        micros(session.idle_expires_at),
        session.second_factor,
        session.method,
    ]
    if session.idp is not None:
        idp = session.idp
        token = idp.id_token if idp.id_token and len(idp.id_token) <= MAX_ID_TOKEN_CHARS else None
        row.append([idp.provider, idp.sid, idp.name_id, idp.name_id_format, token])
    # ASCII: a lone surrogate in a header-derived string cannot break the encoding
    return _encode(row).encode()


def session_from_bytes(session_id: str, data: bytes) -> Session | None:
    """The session stored as ``data`` under ``session_id``; None for anything else."""
    # read on every request, so checked here: the shape check below refuses what the strict
    # reader of sso_bridge.jsonparse exists for (objects, floats, NaN, depth)
    if len(data) > _MAX_STORED_BYTES:
        return None
    try:
        row = _decode(data.decode())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if type(row) is not list or len(row) not in (13, 14) or row[0] != _FORMAT:
        return None
    if (idp := _idp_from(row[13]) if len(row) == 14 else None) is None and len(row) == 14:
        return None
    _, account, issuer, subject, accounts, ip, agent, created, seen, ends, idle, second, method = (
        row[:13]
    )
    if (
        type(account) is not str
        or (issuer is not None and type(issuer) is not str)
        or (subject is not None and type(subject) is not str)
        or type(accounts) is not list
        or any(type(a) is not str for a in accounts)
        or type(ip) is not str
        or type(agent) is not str
        or type(created) is not int
        or type(seen) is not int
        or type(ends) is not int
        or type(idle) is not int
        or type(second) is not bool
        or method not in _METHOD_NAMES
    ):
        return None
    try:
        times = (_moment(created), _moment(seen), _moment(ends), _moment(idle))
    except (OverflowError, ValueError, OSError):  # beyond what a datetime holds
        return None
    return Session(
        session_id,
        account,
        issuer,
        subject,
        tuple(accounts),
        ip,
        agent,
        *times,
        second,
        method,
        idp,
    )


@functools.lru_cache(maxsize=_KEPT_DECODED)
def _kept(session_id: str, data: bytes) -> Session | None:
    return session_from_bytes(session_id, data)


def read_session(session_id: str, data: bytes) -> Session | None:
    """:func:`session_from_bytes` for the validation of every request: the same stored
    bytes decode to the same (immutable) session, so the last few thousand decoded ones
    are kept, keyed by id and bytes; a touch or a rotation stores other bytes."""
    if type(data) is bytes and type(session_id) is str and len(data) <= _MAX_KEPT_BYTES:
        return _kept(session_id, data)
    return session_from_bytes(session_id, data)


def _idp_from(value: object) -> IdpSession | None:
    """The IdP session of a stored row's fourteenth member; None if malformed."""
    if type(value) is not list or len(value) != 5:
        return None
    provider, *rest = value
    if type(provider) is not str or not provider:
        return None
    if any(v is not None and type(v) is not str for v in rest):
        return None
    sid, name_id, name_format, id_token = rest
    return IdpSession(provider, sid, name_id, name_format, id_token)
