"""The test controls over HTTP: ``/outbox`` (the SMS sent) and ``/admin/{action}`` (add a
person or a client, queue faults, rotate keys, reset, end a person's IdP sessions, start an
IdP-initiated SAML logout). Both need the admin token, which
:class:`mock_idp.routes.guard.Guard` checks before a handler runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mock_idp.control import MockIdP
from mock_idp.routes.guard import MAX_ADMIN_BODY_BYTES, admin_refusal
from mock_idp.saml import Redirect
from sso_bridge.errors import BridgeError
from sso_bridge.jsonparse import parse_json

__all__ = ["MAX_FAULTS", "MAX_FAULT_RESPONSES", "AdminHandlers"]

MAX_FAULTS = 32
"""Most fault names one ``/admin/faults`` request may give."""
MAX_FAULT_RESPONSES = 100
"""Most responses one ``/admin/faults`` request may apply its faults to."""


class AdminHandlers:
    """The admin API of ``idp``."""

    def __init__(self, idp: MockIdP) -> None:
        self.idp = idp

    async def outbox(self, request: Request) -> Response:
        if not self.idp.is_admin(request.headers):  # the guard refused it already
            return admin_refusal()
        return JSONResponse(self.idp.outbox)

    async def admin(self, request: Request) -> Response:
        if not self.idp.is_admin(request.headers):  # the guard refused it already
            return admin_refusal()
        action = request.path_params["action"]
        try:
            body = await request.body()  # at most MAX_ADMIN_BODY_BYTES: the guard counted
            data = parse_json(body, max_bytes=MAX_ADMIN_BODY_BYTES) if body else {}
            if not isinstance(data, dict):
                raise TypeError("the body must be a JSON object")
            if action == "users":
                self.idp.add_user(data)
            elif action == "clients":
                self.idp.add_client(data)
            elif action == "faults":
                faults = data.get("faults", [])
                if not isinstance(faults, list) or len(faults) > MAX_FAULTS:
                    raise ValueError(f"faults must be a list of at most {MAX_FAULTS} names")
                self.idp.inject(*faults, responses=_responses(data.get("responses", 1)))
            elif action == "rotate":
                return JSONResponse({"kid": self.idp.rotate_keys(data.get("alg", "RS256"))})
            elif action == "reset":
                self.idp.reset()
            elif action == "logout":
                ended = self.idp.end_sessions_of(_login(data.get("login")))
                return JSONResponse({"ended": [session.sid for session in ended]})
            elif action == "saml_logout":
                return JSONResponse(self._saml_logout(data))
            else:
                return JSONResponse({"error": "unknown admin action"}, status_code=404)
        except (BridgeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
        return JSONResponse({"ok": True})

    def _saml_logout(self, data: dict[str, object]) -> dict[str, object]:
        """An IdP-initiated LogoutRequest: ``sp`` (entity id), ``sid``, ``binding``
        (``redirect``, the default, or ``post``), ``relay_state``; the answer has the URL
        to send the browser to, or the auto-submitting form's ``html``."""
        sp, sid = data.get("sp"), data.get("sid")
        binding = data.get("binding", "redirect")
        relay_state = data.get("relay_state")
        if not isinstance(sp, str) or not isinstance(sid, str) or not isinstance(binding, str):
            raise ValueError("sp and sid must be strings")
        if relay_state is not None and not isinstance(relay_state, str):
            raise ValueError("relay_state must be a string")
        message = self.idp.saml_logout_request(sp, sid, binding=binding, relay_state=relay_state)
        if isinstance(message, Redirect):
            return {"binding": "redirect", "url": message.url}
        return {"binding": "post", "html": message.html()}


def _login(value: object) -> str | int:
    """``login`` of ``/admin/logout``: a login (phone, e-mail, SNILS) or an oid."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("login must be a login or an oid")
    return value


def _responses(value: object) -> int:
    """``responses`` of ``/admin/faults``: a whole number from 1 to MAX_FAULT_RESPONSES."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("responses must be a whole number")
    if not 1 <= value <= MAX_FAULT_RESPONSES:
        raise ValueError(f"responses must be between 1 and {MAX_FAULT_RESPONSES}")
    return value
