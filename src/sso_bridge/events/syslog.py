"""The syslog sink: RFC 5424 messages over UDP, TCP (RFC 6587 octet counting) or a unix
socket.

A message is ``<PRI>1 TIMESTAMP HOSTNAME sso-bridge PROCID MSGID [SD] BOM JSON``: the
priority from the sink's facility and the event's severity, the event's time, MSGID its
kind, the structured data its id and kind, the message its JSON form. Header fields are
printable US-ASCII cut to their RFC lengths (``-`` when empty); in a structured-data
value ``"``, ``\\`` and ``]`` are escaped with a backslash.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC
from typing import Final

from sso_bridge.events.config import SyslogSink
from sso_bridge.events.model import Event
from sso_bridge.events.webhook import DELIVERED, Outcome
from sso_bridge.model import AuditAction

__all__ = ["APP_NAME", "SyslogSender", "frame", "rfc5424", "sd_escape", "severity"]

APP_NAME: Final = "sso-bridge"
BOM: Final = b"\xef\xbb\xbf"

_ERROR: Final = frozenset({"store.unavailable", "audit.unrecorded", "login.unrecorded"})
_WARNING: Final = frozenset(
    {
        *(
            "audit." + action.value
            for action in (
                AuditAction.LOGIN_REFUSED,
                AuditAction.LINK_REFUSED,
                AuditAction.SECOND_FACTOR_FAILED,
                AuditAction.SECURITY,
                AuditAction.LIMIT_REACHED,
            )
        ),
        "readiness.failed",
        "security.alert",
    }
)


def severity(kind: str) -> int:
    """3 (error), 4 (warning) or 6 (informational) for an event ``kind``."""
    if kind in _ERROR:
        return 3
    return 4 if kind in _WARNING else 6


def _header(value: str | None, longest: int) -> str:
    """A header field: printable US-ASCII (33-126) only, at most ``longest``, or ``-``."""
    kept = "".join(ch for ch in (value or "") if 33 <= ord(ch) <= 126)[:longest]
    return kept or "-"


def sd_escape(value: str) -> str:
    """A structured-data PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped (RFC 5424 6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(event: Event, message: bytes, sink: SyslogSink, hostname: str, procid: int) -> bytes:
    """The RFC 5424 message of ``event`` with ``message`` (its JSON form) as MSG."""
    pri = sink.facility * 8 + severity(event.kind)
    at = event.at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    sd_id = _header(sink.sd_id.replace("=", "").replace("]", "").replace('"', ""), 32)
    sd = f'[{sd_id} id="{sd_escape(event.event_id)}" kind="{sd_escape(event.kind)}"]'
    head = (
        f"<{pri}>1 {at} {_header(hostname, 255)} {APP_NAME} {_header(str(procid), 128)} "
        f"{_header(event.kind, 32)} {sd} "
    )
    return head.encode("ascii", "replace") + BOM + message


def frame(message: bytes) -> bytes:
    """``message`` framed by octet counting (RFC 6587 3.4.1): ``LEN SP MSG``."""
    return str(len(message)).encode() + b" " + message


class SyslogSender:
    """Sends events to one :class:`~sso_bridge.events.config.SyslogSink`."""

    def __init__(self, sink: SyslogSink) -> None:
        self.sink = sink
        self.hostname = sink.hostname or socket.gethostname()
        self._sock: socket.socket | None = None
        self._stream = sink.transport == "tcp"

    def _connect(self) -> socket.socket:
        sink = self.sink
        if sink.transport == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(sink.timeout)
            try:
                sock.connect(sink.address)
            except OSError:  # a stream socket (rsyslog's imuxsock takes datagrams)
                sock.close()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(sink.timeout)
                sock.connect(sink.address)
                self._stream = True
            return sock
        host, _, port = sink.address.rpartition(":")
        host = host.strip("[]")
        if sink.transport == "tcp":
            return socket.create_connection((host, int(port)), timeout=sink.timeout)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.settimeout(sink.timeout)
        sock.connect((host, int(port)))
        return sock

    def send(self, event: Event, message: bytes) -> Outcome:
        """Send one event; never raises (a broken connection is opened again next time)."""
        data = rfc5424(event, message, self.sink, self.hostname, os.getpid())
        try:
            if self._sock is None:
                self._sock = self._connect()
            if self._stream:
                self._sock.sendall(frame(data))
            else:
                self._sock.send(data)
        except OSError as exc:
            self.close()
            return Outcome(ok=False, reason=f"syslog: {type(exc).__name__}")
        return DELIVERED

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
