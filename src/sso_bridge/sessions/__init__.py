"""Sessions of the broker: IP- and lifetime-bound, rotated, revocable; the cookies that
carry them, CSRF tokens, the client address behind reverse proxies, and requests kept
across a re-authentication (docs/sessions.md)::

    manager = SessionManager(store, SessionPolicy(), csrf_key)
    token, session = manager.start(account_id, ip=ip, user_agent=agent, now=now,
                                   issuer=issuer, subject=subject)
    headers.append(("Set-Cookie", set_cookie_header(cookies, cookies.session_name, token)))
    ...
    session = manager.validate(cookie_value, ip=client_address(peer, xff, proxies), now=now)

Every refusal is a :class:`SessionError` with a stable ``session.*`` code.
"""

from sso_bridge.address import ClientAddress
from sso_bridge.sessions.binding import IpBinding, client_address, client_ip, parse_ip
from sso_bridge.sessions.cookies import (
    HOST_PREFIX,
    BrowserIds,
    CookieSettings,
    clear_cookie_header,
    new_browser_id,
    set_cookie_header,
)
from sso_bridge.sessions.errors import SessionError, SessionExpired, SessionIpChanged
from sso_bridge.sessions.kept import KEPT_REQUEST_KIND, RequestKeeper, SavedRequest, is_local_path
from sso_bridge.sessions.manager import SESSION_KIND, SessionManager, SessionPolicy
from sso_bridge.sessions.model import Method, Session, session_from_bytes, session_to_bytes

__all__ = [
    "HOST_PREFIX",
    "KEPT_REQUEST_KIND",
    "SESSION_KIND",
    "BrowserIds",
    "ClientAddress",
    "CookieSettings",
    "IpBinding",
    "Method",
    "RequestKeeper",
    "SavedRequest",
    "Session",
    "SessionError",
    "SessionExpired",
    "SessionIpChanged",
    "SessionManager",
    "SessionPolicy",
    "clear_cookie_header",
    "client_address",
    "client_ip",
    "is_local_path",
    "new_browser_id",
    "parse_ip",
    "session_from_bytes",
    "session_to_bytes",
    "set_cookie_header",
]
