"""The outermost layer of the mock IdP's application: the admin token, request bodies
bounded while they stream, and the security headers on every response."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_idp.errors import ESIA_BAD_REQUEST
from mock_idp.paths import ADMIN_HEADER
from mock_idp.saml import SLO_PATHS, SSO_PATHS

if TYPE_CHECKING:
    from mock_idp.control import MockIdP

__all__ = [
    "MAX_ADMIN_BODY_BYTES",
    "MAX_FORM_BODY_BYTES",
    "MAX_SAML_BODY_BYTES",
    "SECURITY_HEADERS",
    "Guard",
    "admin_refusal",
]

MAX_ADMIN_BODY_BYTES = 1024 * 1024
"""Largest body of an ``/admin/*`` request (a person or client as JSON)."""
MAX_SAML_BODY_BYTES = 512 * 1024
"""Largest body posted to the SAML endpoints: a 256 KB message, base64 and form-encoded."""
MAX_FORM_BODY_BYTES = 64 * 1024
"""Largest body of any other request (token requests, the login forms)."""
_SAML_POST_ONLOAD = "document.forms[0].submit()"  # the SAML POST binding's auto-submit
_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'unsafe-inline'",  # the pages' one <style> block
        "script-src 'unsafe-hashes' 'sha256-"
        + base64.b64encode(hashlib.sha256(_SAML_POST_ONLOAD.encode()).digest()).decode()
        + "'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": _CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers on every response of the mock; ``Cache-Control: no-store`` is added to every
response that does not set its own."""


def admin_refusal() -> Response:
    """401 for a request to ``/admin/*`` or ``/outbox`` without the admin token."""
    return JSONResponse(
        {
            "error": "unauthorized",
            "error_description": f"this endpoint needs the admin token in {ADMIN_HEADER}",
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class _BodyTooLarge(Exception):
    pass


class Guard:
    """The outermost layer of the mock's application: the admin token, bounded bodies
    and the security headers (see :mod:`mock_idp.app`)."""

    def __init__(self, app: ASGIApp, idp: MockIdP) -> None:
        self.app = app
        self.idp = idp
        self.saml_paths = frozenset((*SSO_PATHS.values(), *SLO_PATHS.values()))

    def limit(self, path: str) -> int:
        """The largest body accepted for ``path``."""
        if path.startswith("/admin/"):
            return MAX_ADMIN_BODY_BYTES
        if path in self.saml_paths:
            return MAX_SAML_BODY_BYTES
        return MAX_FORM_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        path = str(scope.get("path", ""))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        admin_only = path.startswith("/admin/") or path == "/outbox"
        if admin_only and not self.idp.is_admin(headers):
            await admin_refusal()(scope, receive, send)
            return
        limit = self.limit(path)
        try:
            declared = int(headers.get("content-length", "0") or "0")
        except ValueError:
            declared = -1
        if declared < 0 or declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        try:
            body = await _read_body(receive, limit)
        except _BodyTooLarge:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, counted while it streams; past ``limit`` bytes the reading
    stops (:class:`_BodyTooLarge`), whatever Content-Length said or did not say."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the counted body once, then waits on the real one."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_headers(send: Send) -> Send:
    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            for name, value in SECURITY_HEADERS.items():
                if name.lower().encode() not in present:
                    headers.append((name.lower().encode(), value.encode()))
            if b"cache-control" not in present:
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers
        await send(message)

    return sending


def _too_large(limit: int) -> Response:
    description = f"{ESIA_BAD_REQUEST}: the request body is larger than {limit} bytes"
    return Response(
        json.dumps({"error": "invalid_request", "error_description": description}),
        status_code=413,
        media_type="application/json",
        headers={"Connection": "close"},
    )
