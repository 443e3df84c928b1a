"""The request-log middlewares for a whole application (ASGI, Django)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

import web.django_host  # noqa: F401 - configures Django for this process
from helpers.aio import run_coroutine
from observe.conftest import Lines
from sso_bridge.web.asgi import RequestLog
from sso_bridge.web.django.middleware import RequestLogMiddleware


def _ours(lines: Lines) -> list[dict[str, Any]]:
    logged = (json.loads(line) for line in lines.lines)
    return [x for x in logged if x["logger"].startswith("sso_bridge")]


def test_the_asgi_middleware_logs_and_echoes(lines: Lines) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("sso_bridge.host").info("inside")
        headers = [(b"x-request-id", b"planted"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/grades",
        "query_string": b"q=1",
        "headers": [(b"x-request-id", b"rid-7")],
        "client": ("10.9.9.9", 5000),
    }
    run_coroutine(RequestLog(app)(scope, receive, send))  # type: ignore[arg-type]
    assert [v for n, v in sent[0]["headers"] if n == b"x-request-id"] == [b"rid-7"]
    inside, request = _ours(lines)
    assert inside["request_id"] == request["request_id"] == "rid-7"
    assert (request["method"], request["path"], request["status"]) == ("POST", "/grades", 201)
    assert "ip" not in request


def test_the_django_middleware_logs_and_echoes(lines: Lines) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        logging.getLogger("sso_bridge.host").info("inside")
        return HttpResponse("ok", status=202)

    request = RequestFactory().get("/notes?x=1", HTTP_X_REQUEST_ID="a b")
    response = RequestLogMiddleware(view)(request)
    made = response["X-Request-ID"]
    assert len(made) == 32
    inside, logged = _ours(lines)
    assert inside["request_id"] == logged["request_id"] == made
    assert (logged["path"], logged["status"]) == ("/notes", 202)
