"""A body limit and a request log for any ASGI application (Starlette, FastAPI, Django
under ASGI)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sso_bridge.errors import ConfigError
from sso_bridge.observe import Exchange
from sso_bridge.web.body import BodyCounter
from sso_bridge.web.errors import RequestRefused

__all__ = ["ASGIApp", "BodyLimit", "RequestLog"]

# the ASGI types, spelt out so that this module needs no framework
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware that bounds every request body of an application while it streams
    in, whatever its framing, including bodies the framework reads before any view runs
    (FastAPI's ``Form`` parameters)::

        app.add_middleware(BodyLimit, max_bytes=WebConfig().max_form_bytes)

    Past ``max_bytes`` (or when ``Content-Length`` announces more) the answer is 413
    ``web.form_too_large`` with ``Connection: close``, and the rest is never received.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 1024 * 1024) -> None:
        if type(max_bytes) is not int or max_bytes < 1:
            raise ConfigError("max_bytes must be a positive integer", code="config.invalid")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("headers") or ()
        announced = dict(raw).get(b"content-length", b"")
        try:
            counter = BodyCounter(self.max_bytes, announced.decode("latin-1"))
        except RequestRefused as exc:
            await _refuse_body(send, exc)
            return
        refusal: RequestRefused | None = None
        started = False

        async def counted() -> Message:
            nonlocal refusal
            message = await receive()
            if message["type"] == "http.request":
                try:
                    counter.count(len(message.get("body", b"")))
                except RequestRefused as exc:
                    refusal = exc
                    raise
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if refusal is None:  # once refused, what the application says is dropped
                started = True
                await send(message)

        try:
            await self.app(scope, counted, answer)
        except Exception:
            if refusal is None:
                raise
        if refusal is not None and not started:
            await _refuse_body(send, refusal)


async def _refuse_body(send: Send, refusal: RequestRefused) -> None:
    body = f"{refusal.code}: {refusal.message}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLog:
    """ASGI middleware: one log line (``sso_bridge.request``) and a request id for every
    HTTP request of the application, the host's own pages included::

        app.add_middleware(RequestLog)

    The id comes from ``X-Request-ID`` when it is plain and short (see
    :func:`~sso_bridge.observe.accept_request_id`), else a new one, and goes back in the
    response's ``X-Request-ID``. Without it the auth routes and ``require_session`` views
    still log themselves. The client address is logged only when
    :func:`~sso_bridge.observe.configure_logging` was given ``include_ip``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1") or None
        client = scope.get("client") or ("", 0)
        path = scope.get("root_path", "") + scope.get("path", "")
        exchange = Exchange.open(scope.get("method", "GET"), path, given, str(client[0]))
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                raw = [
                    (n, v) for n, v in message.get("headers", ()) if n.lower() != b"x-request-id"
                ]
                raw.append((b"x-request-id", exchange.request_id.encode("latin-1")))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            exchange.close(status)
