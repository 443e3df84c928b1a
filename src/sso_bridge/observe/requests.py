"""The request id and the one log line per request.

An adapter opens an :class:`Exchange` when a request comes in and closes it with the
status: the id is taken from ``X-Request-ID`` when it is short and plain (else a new one),
set in :data:`~sso_bridge.observe.logs.REQUEST_ID` for every line logged meanwhile, and
echoed in the response. An exchange opened while another is open (a middleware and the
auth route both at work) is the same request: it neither logs nor takes a new id.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from contextvars import Token
from typing import Final

from sso_bridge.observe.logs import REQUEST_ID, ip_logging

__all__ = ["HEADER", "REQUEST_LOGGER", "Exchange", "accept_request_id"]

HEADER: Final = "X-Request-ID"
REQUEST_LOGGER: Final = "sso_bridge.request"
_ACCEPTED: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_log = logging.getLogger(REQUEST_LOGGER)


def accept_request_id(value: str | None) -> str:
    """``value`` when it is 1-128 letters, digits, ``.``, ``_``, ``:`` or ``-`` (nginx's
    ``$request_id`` and UUIDs are), else a new random id (32 hex digits)."""
    if value and _ACCEPTED.fullmatch(value):
        return value
    return secrets.token_hex(16)


class Exchange:
    """One request being served: opened by :meth:`open`, closed by :meth:`close`."""

    def __init__(
        self, method: str, path: str, request_id: str | None, ip: str = "", *, log: bool = True
    ) -> None:
        self.method = method
        self.log = log
        self.path = path.split("?", 1)[0]
        self.ip = ip
        self.route: str | None = None
        outer = REQUEST_ID.get()
        self.nested = outer is not None
        self.request_id = outer if outer is not None else accept_request_id(request_id)
        self._token: Token[str | None] | None = None
        self._started = time.perf_counter()
        self._closed = False

    @classmethod
    def open(
        cls, method: str, path: str, request_id: str | None, ip: str = "", *, log: bool = True
    ) -> Exchange:
        """Start serving a request (``request_id`` as its ``X-Request-ID`` header said);
        without ``log`` the id is still kept and echoed, but no line is written."""
        exchange = cls(method, path, request_id, ip, log=log)
        if not exchange.nested:
            exchange._token = REQUEST_ID.set(exchange.request_id)
        return exchange

    def close(self, status: int) -> None:
        """Log the request's line (once; nested exchanges log nothing) and forget its id."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.nested and self.log:
                self._log(status)
        finally:
            if self._token is not None:
                REQUEST_ID.reset(self._token)
                self._token = None

    def _log(self, status: int) -> None:
        level = logging.ERROR if status >= 500 else logging.INFO
        if not _log.isEnabledFor(level):  # filtered out: build nothing
            return
        duration = round((time.perf_counter() - self._started) * 1000, 3)
        extra: dict[str, object] = {
            "event": "http.request",
            "method": self.method,
            "path": self.route or self.path,
            "status": status,
            "duration_ms": duration,
            "request_id": self.request_id,
        }
        if ip_logging() and self.ip:
            extra["ip"] = self.ip
        _log.log(level, "%s %s %s", self.method, extra["path"], status, extra=extra)
