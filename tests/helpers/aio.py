"""Running a coroutine, or an ASGI application, to its end from a test, whatever loop the
test's thread has."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Result = TypeVar("Result")


def run_coroutine(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """Run ``coroutine`` on a new event loop in a thread of its own and return its result.

    ``asyncio.run`` refuses to start in a thread whose loop is running, which is the case
    after the browser tests (Playwright's synchronous API keeps a loop in the main thread).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="test-coroutine")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@dataclass
class AsgiAnswer:
    """What an ASGI application answered, and how many body bytes it pulled."""

    status: int
    headers: dict[bytes, bytes]
    text: str
    pulled: int


def post_asgi(
    app: Any,
    path: str,
    body: Iterator[bytes],
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    host: str = "127.0.0.1",
) -> AsgiAnswer:
    """POST ``body`` to ``app`` piece by piece, as a server hands on a chunked body (each
    piece a message with ``more_body``), and count what the application pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        piece = next(body, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": (host, 80),
    }
    run_coroutine(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return AsgiAnswer(start["status"], dict(start["headers"]), text.decode(), pulled)
