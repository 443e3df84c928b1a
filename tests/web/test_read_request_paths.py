"""``read_request`` (Starlette) with and without a body: a request whose head says it
has none is taken as it is, one with a body is read within the limits whatever its
method, and the view still gets the body it may read itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from starlette.requests import Request
from starlette.types import Message

from helpers.aio import run_coroutine
from sso_bridge.web import WebConfig
from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.starlette import read_request

CONFIG = WebConfig(max_form_bytes=64)


def _request(
    method: str, headers: list[tuple[bytes, bytes]], pieces: list[bytes]
) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``pieces``; the list counts the body's reads."""
    reads = [0]
    queue = list(pieces)

    async def receive() -> Message:
        reads[0] += 1
        body = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": body, "more_body": bool(queue)}

    scope = {
        "type": "http",
        "method": method,
        "path": "/grades",
        "raw_path": b"/grades",
        "query_string": b"a=1",
        "headers": [(b"host", b"site.test"), *headers],
        "client": ("10.0.0.1", 5000),
        "server": ("site.test", 80),
        "scheme": "http",
        "root_path": "",
    }
    return Request(scope, receive), reads


def _run(call: Callable[[], Awaitable[object]]) -> object:
    return run_coroutine(call())  # type: ignore[arg-type]


def test_a_get_without_a_body_is_read_and_the_view_still_gets_an_empty_body() -> None:
    request, _reads = _request("GET", [(b"cookie", b"sid=abc")], [])

    async def both() -> tuple[object, bytes]:
        web, onward = await read_request(request, CONFIG)
        return web, await onward.body()

    web, body = _run(both)  # type: ignore[misc]
    assert tuple(web.form) == ()
    assert web.query == {"a": "1"}
    assert web.cookies == {"sid": "abc"}
    assert web.remote_addr == "10.0.0.1"
    assert body == b""


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_body_is_read_whatever_the_method(method: str) -> None:
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    headers = [*form, (b"content-length", b"7")]
    request, reads = _request(method, headers, [b"x=1", b"&y=2"])
    web, onward = _run(lambda: read_request(request, CONFIG))  # type: ignore[misc]
    assert tuple(web.form) == (("x", "1"), ("y", "2"))
    assert reads[0] == 2
    assert _run(onward.body) == b"x=1&y=2"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "framing", [(b"transfer-encoding", b"chunked"), (b"content-length", b"80")]
)
def test_a_body_past_the_limit_is_refused_whatever_the_method(
    method: str, framing: tuple[bytes, bytes]
) -> None:
    request, _reads = _request(method, [framing], [b"x" * 40, b"x" * 40])
    with pytest.raises(RequestRefused) as refused:
        _run(lambda: read_request(request, CONFIG))
    assert refused.value.code == "web.form_too_large"


def test_an_empty_post_has_an_empty_form() -> None:
    form = (b"content-type", b"application/x-www-form-urlencoded")
    request, _reads = _request("POST", [form, (b"content-length", b"0")], [])
    web, _onward = _run(lambda: read_request(request, CONFIG))  # type: ignore[misc]
    assert tuple(web.form) == ()
