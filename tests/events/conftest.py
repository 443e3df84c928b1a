"""A local webhook receiver, and audit events with personal values in every field."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sso_bridge.model import AuditAction, AuditEvent

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def personal_event(i: int, at: datetime = T0) -> AuditEvent:
    """An audit event whose personal fields hold values that name it (``...-<i>``)."""
    return AuditEvent(
        AuditAction.LOGIN,
        at,
        f"actor-secret-{i}",
        issuer="esia",
        subject=f"subject-secret-{i}",
        account_id=f"account-secret-{i}",
        ip=f"10.9.8.{i % 250}",
        code=None,
        detail=f"detail-secret-{i}",
        user_agent=f"agent-secret-{i}",
    )


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps what it is sent.

    ``answer`` is the status it gives; ``keep_when_failing`` keeps a request even when it
    answers an error (an answer lost on the way back: the sender will send it again).
    :meth:`down` closes the port (connections refused) and :meth:`up` opens it again.
    """

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answer = 200
        self.answer_for: dict[str, int] = {}
        self.keep_when_failing = False
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                event_id = headers.get("Sso-Bridge-Event-Id", "")
                status = receiver.answer_for.get(event_id, receiver.answer)
                with receiver.lock:
                    if status < 300 or receiver.keep_when_failing:
                        receiver.received.append((headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


@pytest.fixture
def make_event() -> Any:
    """:func:`personal_event`."""
    return personal_event
