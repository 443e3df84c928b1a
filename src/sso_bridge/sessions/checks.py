"""The checks of a session's inputs and its tokens: the token's form and id, the login's
fields, and the HMAC of a CSRF token (:class:`~sso_bridge.sessions.SessionManager`)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Final

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.sessions.errors import SessionError, SessionMissing, SessionUnknown
from sso_bridge.sessions.model import METHODS

__all__ = [
    "TOKEN_BYTES",
    "check_csrf_token",
    "check_login",
    "csrf_token",
    "session_id",
    "text",
    "unknown",
]

TOKEN_BYTES: Final = 32
_TOKEN_FORM: Final = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded
_CSRF_LABEL: Final = b"sso_bridge csrf v1\x00"


def session_id(token: str | None) -> str:
    """The id (hex SHA-256) of a well-formed token; ``session.missing`` otherwise."""
    if not token or not _TOKEN_FORM.fullmatch(token):
        raise SessionMissing("no session token, or a malformed one")
    return hashlib.sha256(token.encode()).hexdigest()


def unknown() -> SessionUnknown:
    """The refusal of a token that names no live session."""
    return SessionUnknown("no such session")


def text(name: str, value: object) -> str:
    """``value`` if it is a non-empty string, else ``input.invalid`` naming ``name``."""
    if type(value) is not str or not value:
        raise InvalidInput(f"{name} must be a non-empty string", code="input.invalid")
    return value


def check_login(
    account_id: str, issuer: str | None, subject: str | None, method: str, now: datetime
) -> None:
    """``input.invalid`` unless the fields make a local or a federated login at an aware
    ``now``."""
    text("account_id", account_id)
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {sorted(METHODS)}", code="input.invalid")
    if method == "federated":
        text("issuer", issuer)
        text("subject", subject)
    elif issuer is not None or subject is not None:
        raise InvalidInput("a local login has no issuer or subject", code="input.invalid")
    if now.utcoffset() is None:
        raise InvalidInput("now must be timezone-aware", code="input.invalid")


def csrf_token(key: bytes, message: bytes) -> str:
    """The CSRF token of ``message``: base64url of its HMAC-SHA256 under ``key``."""
    return base64url.encode(hmac.digest(key, _CSRF_LABEL + message, "sha256"))


def check_csrf_token(expected: str, value: str | None) -> None:
    """Accept ``value`` as ``expected`` (in constant time), or ``session.csrf_invalid``."""
    given = (value or "").encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode(), given):
        raise SessionError("the form's CSRF token is not valid", code="session.csrf_invalid")
