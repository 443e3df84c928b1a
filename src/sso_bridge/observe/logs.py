"""Structured logs: one JSON object per line through the standard :mod:`logging` module.

:class:`JsonFormatter` writes ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``event``,
``message``, ``request_id`` and the record's ``extra`` fields; :func:`configure_logging`
installs it for a host. The request id lives in a context variable
(:mod:`sso_bridge.observe.requests` sets it), so every line written while a request is
served carries it. :func:`log_audit_event` and :func:`log_unrecorded` write the security
events of ``sso_bridge.security``: codes and ids only, never names, SNILS, passport
numbers, one-time codes, subjects or free text.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Final

from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.observe.signals import signal

__all__ = [
    "REQUEST_ID",
    "SECURITY_LOGGER",
    "JsonFormatter",
    "RequestIdFilter",
    "configure_logging",
    "ip_logging",
    "log_audit_event",
    "log_unrecorded",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("sso_bridge_request_id", default=None)
"""The id of the request being served in this context (None outside a request)."""

SECURITY_LOGGER: Final = "sso_bridge.security"
_security = logging.getLogger(SECURITY_LOGGER)

IP_FIELDS: Final = frozenset({"ip", "client_ip", "remote_addr"})
"""Extra fields that hold a client address: written only with ``include_ip``."""

_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

_WARNING_ACTIONS: Final = frozenset(
    {
        AuditAction.LOGIN_REFUSED,
        AuditAction.LINK_REFUSED,
        AuditAction.SECOND_FACTOR_FAILED,
        AuditAction.SECURITY,
        AuditAction.LIMIT_REACHED,
    }
)

_settings = {"include_ip": False}


def ip_logging() -> bool:
    """Whether client addresses go into the logs (:func:`configure_logging`)."""
    return _settings["include_ip"]


def _safe(value: Any) -> Any:
    """A JSON value for ``value``: text for anything json cannot write."""
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the thread or task that logs it, for
    handlers that format later or elsewhere (a queue, a test's capture)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never raises, whatever the record holds. Client
    addresses (:data:`IP_FIELDS`) are dropped unless ``include_ip``."""

    def __init__(self, *, include_ip: bool = False) -> None:
        super().__init__()
        self.include_ip = include_ip

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record)
        except Exception:
            fallback = {
                "ts": _timestamp(record),
                "level": getattr(record, "levelname", "ERROR"),
                "logger": _safe(getattr(record, "name", "")),
                "event": "log.unformattable",
                "request_id": REQUEST_ID.get(),
            }
            return json.dumps(fallback, default=_safe, ensure_ascii=False)

    def _format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:
            message = _safe(record.msg)
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "event": None,
            "message": message,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key == "request_id":
                continue
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in IP_FIELDS and not self.include_ip:
                continue
            line[key] = value
        if line["event"] is None:
            line["event"] = record.name
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        # json escapes newlines: a traceback stays on the object's one line
        return json.dumps(line, default=_safe, ensure_ascii=False)


def _timestamp(record: logging.LogRecord) -> str:
    created = float(getattr(record, "created", 0.0) or 0.0)
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


_MARK: Final = "_sso_bridge_json"


def configure_logging(
    level: int | str = logging.INFO, *, include_ip: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) as JSON lines, at ``level``.
    ``include_ip`` puts client addresses into the request log; off by default (an IP
    address is personal data). Calling it again replaces the handler it installed."""
    _settings["include_ip"] = bool(include_ip)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(include_ip=include_ip))
    handler.addFilter(RequestIdFilter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def _who(event: AuditEvent) -> dict[str, Any]:
    action = getattr(event.action, "value", event.action)
    return {
        "action": str(action),
        "code": event.code,
        "issuer": event.issuer,
        "account_id": event.account_id,
    }


def log_audit_event(event: AuditEvent) -> None:
    """Log an audit record as a security event (``sso_bridge.security``, event
    ``audit.recorded``): action, code, issuer and account id. The subject, the address,
    the user agent and ``detail`` are left out: the audit trail keeps them, and
    ``detail`` is free text that may quote what a person typed or an address."""
    level = logging.WARNING if event.action in _WARNING_ACTIONS else logging.INFO
    if not _security.isEnabledFor(level):
        return
    fields = _who(event)
    _security.log(level, "audit %s", fields["action"], extra={"event": "audit.recorded", **fields})


def log_unrecorded(event: AuditEvent, error: BaseException) -> None:
    """Log, at error level, an audit record that could not be written (event
    ``audit.unrecorded``), with the code of the failure; the same fields as
    :func:`log_audit_event`."""
    code = getattr(error, "code", None)
    fields = {
        **_who(event),
        "error_code": code if isinstance(code, str) else "bridge.error",
        "error_type": type(error).__name__,
    }
    _security.error(
        "an audit record could not be written", extra={"event": "audit.unrecorded", **fields}
    )
    signal("audit.unrecorded", **fields)


def log_unrecorded_login(
    account_id: str, issuer: str | None, error: BaseException, *, session_ended: bool
) -> None:
    """Log, at error level, a login whose records could not be written (event
    ``login.unrecorded``): its new session was ended again (``session_ended``), or could
    not be and lapses unused with its lifetime (its token was never handed out)."""
    code = getattr(error, "code", None)
    _security.error(
        "a login could not be recorded; its session was %s",
        "ended" if session_ended else "left to lapse",
        extra={
            "event": "login.unrecorded",
            "account_id": account_id,
            "issuer": issuer,
            "session_ended": session_ended,
            "error_code": code if isinstance(code, str) else "bridge.error",
        },
    )
    signal(
        "login.unrecorded",
        account_id=account_id,
        issuer=issuer,
        session_ended=session_ended,
        error_code=code if isinstance(code, str) else "bridge.error",
    )
