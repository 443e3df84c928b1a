"""What a request may carry, on both adapters: a body is counted while it streams in and
refused past the limit whatever its framing (chunked without Content-Length, a
Content-Length that lies, any method or content type), the form's fields, the query
string and the headers are bounded, and the SAML repost page echoes nothing beyond them.

The servers here count what the application pulled from the connection: at most the
limit and one piece may be read before the refusal."""

from __future__ import annotations

import io
import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from werkzeug.test import create_environ

from helpers.aio import post_asgi
from mock_idp.server import RunningIdP, free_port
from sso_bridge.web import WebConfig
from sso_bridge.web.body import CHUNK_BYTES
from web.support import PASSWORD, Server, World, field, flask_app, starlette_app


@pytest.fixture(params=("starlette", "flask"))
def world(request: pytest.FixtureRequest, mock_idp: RunningIdP, tmp_path: Path) -> Iterator[World]:
    """Starlette and Flask only: these read the body themselves, chunked too (Django's
    WSGI handler reads a body by its Content-Length; see test_django.py)."""
    served = World(request.param, mock_idp, tmp_path)
    try:
        yield served
    finally:
        served.close()


LIMIT = 64 * 1024
MANY_MB = 32 * 1024 * 1024
PIECE = 16 * 1024


# -- counting what the application reads ---------------------------------------------------


class CountingAsgi:
    """An ASGI app that counts the body bytes ``app`` pulled through ``receive``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pulled = 0
        self.largest = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                self.pulled += size
                self.largest = max(self.largest, size)
            return message

        await self.app(scope, counted, send)


class CountingInput(io.RawIOBase):
    """A WSGI input stream that counts what was read from it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pulled = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.pulled += len(data)
        return len(data)


class CountingWsgi:
    """A WSGI app that counts the body bytes ``app`` read from ``wsgi.input``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inputs: list[CountingInput] = []

    @property
    def pulled(self) -> int:
        return sum(i.pulled for i in self.inputs)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        counted = CountingInput(environ["wsgi.input"])
        self.inputs.append(counted)
        environ["wsgi.input"] = counted
        return self.app(environ, start_response)


class Limited:
    """The auth pages of ``world``'s broker under ``config``, served on another port with
    the body reads counted."""

    def __init__(self, world: World, config: WebConfig) -> None:
        self.framework = world.framework
        self.config = config
        self.port = free_port()
        if world.framework == "flask":
            app = flask_app(config, world.broker)
            self.counter: CountingAsgi | CountingWsgi = CountingWsgi(app.wsgi_app)
            app.wsgi_app = self.counter  # type: ignore[method-assign]
            served: Any = app
        else:
            self.counter = CountingAsgi(starlette_app(config, world.broker))
            served = self.counter
        self.server = Server(world.framework, served, self.port)
        self.server.start()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def most_read(self) -> int:
        """The most a refused body may have been read: the limit and one piece."""
        if isinstance(self.counter, CountingAsgi):
            return self.config.max_form_bytes + max(self.counter.largest, 1)
        return self.config.max_form_bytes + CHUNK_BYTES


@pytest.fixture
def limited(world: World) -> Iterator[Limited]:
    served = Limited(world, attrs.evolve(world.config, max_form_bytes=LIMIT))
    try:
        yield served
    finally:
        served.close()


# -- a client that streams a chunked body and reads the answer meanwhile ---------------------


@attrs.define
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    sent: int
    """How many body bytes the client produced before the server stopped it."""


def pieces(total: int, size: int = PIECE) -> Iterator[bytes]:
    """``total`` bytes of form-like data in pieces of ``size``."""
    yield b"step=x&login="
    for _ in range(total // size):
        yield b"a" * size


def send_chunked(
    port: int,
    path: str,
    body: Iterator[bytes],
    headers: dict[str, str] | None = None,
    *,
    half_close: bool = True,
) -> Answer:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no Content-Length), reading the
    answer while sending, so that a server that answers early and closes is heard.
    With ``half_close`` the client's side is shut once all is sent, for a server that
    reads on after its answer (werkzeug's development server drains the rest)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    received = bytearray()
    done = threading.Event()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
        except OSError:
            pass
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    extra = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "Transfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items()) + "\r\n"
    sent = 0
    try:
        sock.sendall(head.encode())
        for piece in body:
            if done.is_set():
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
            if half_close:
                sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server closed the connection: the answer was read meanwhile
    reader.join(20)
    sock.close()
    raw_head, _, raw_body = bytes(received).partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), bytes(received[:200])
    found = dict(line.split(": ", 1) for line in lines[1:])
    return Answer(
        int(lines[0].split()[1]),
        {k.lower(): v for k, v in found.items()},
        raw_body.decode("utf-8", "replace"),
        sent,
    )


def assert_refused(answer: Answer, code: str = "web.form_too_large") -> None:
    assert answer.status == 413, answer.body[:500]
    assert code in answer.body
    assert "close" in answer.headers.get("connection", "").lower()


# -- chunked bodies without Content-Length ----------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/acs/saml", "/auth/local", "/grades"])
def test_a_chunked_body_of_many_megabytes_is_refused_while_streaming(
    limited: Limited, path: str
) -> None:
    answer = send_chunked(limited.port, path, pieces(MANY_MB))
    assert_refused(answer)
    assert 0 < limited.counter.pulled <= limited.most_read()
    if limited.framework == "starlette":
        # uvicorn closes the connection; werkzeug's development server instead reads
        # and drops what the client still sends (10 MB at a time), so that it sees the 413
        assert answer.sent < MANY_MB


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/octet-stream", "multipart/form-data"]
)
def test_a_chunked_body_of_any_type_is_refused_past_the_limit(
    limited: Limited, content_type: str
) -> None:
    answer = send_chunked(
        limited.port, "/auth/local", pieces(MANY_MB), {"Content-Type": content_type}
    )
    assert_refused(answer)
    assert limited.counter.pulled <= limited.most_read()


def test_a_body_on_a_get_is_counted_too(limited: Limited) -> None:
    big = b"a" * (LIMIT + 1)
    refused = limited.http.request("GET", "/auth/login", content=big)
    assert refused.status_code == 413
    assert "web.form_too_large" in refused.text


def test_a_chunked_form_within_the_limit_is_read(limited: Limited) -> None:
    page = limited.http.get("/auth/login")
    assert page.status_code == 200
    cookie = "; ".join(f"{k}={v}" for k, v in limited.http.cookies.items())
    form = b"step=unknown&org=sch1&login=smirnova&password=x"
    answer = send_chunked(
        limited.port,
        "/auth/local",
        iter([form[:10], form[10:]]),
        {"Cookie": cookie},
        half_close=False,
    )
    # read and parsed: the broker, not the adapter, refuses the made-up step
    assert answer.status == 400, answer.body[:300]
    assert "broker.step_unknown" in answer.body


# -- a Content-Length that lies -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/acs/saml", "/auth/local", "/grades"])
def test_a_content_length_that_lies_does_not_lift_the_limit(world: World, path: str) -> None:
    config = attrs.evolve(world.config, max_form_bytes=LIMIT)
    form = (b"content-type", b"application/x-www-form-urlencoded")
    # far more than the limit, yet finite: a reader without a limit ends (and fails here)
    big = itertools.repeat(b"a" * PIECE, 8 * 1024 * 1024 // PIECE)
    if world.framework == "starlette":
        app = starlette_app(config, world.broker)
        headers = [(b"content-length", b"10"), form]
        answer = post_asgi(app, path, big, headers)
        status, text, pulled = answer.status, answer.text, answer.pulled
        assert answer.headers[b"connection"] == b"close"
    else:
        flask = flask_app(config, world.broker)
        stream = CountingInput(_Pieces(big))
        # a server that ends the body itself (gunicorn, or werkzeug for chunked bodies)
        environ = create_environ(path, method="POST", content_type=form[1].decode())
        environ.update({"wsgi.input": stream, "CONTENT_LENGTH": "10"})
        environ["wsgi.input_terminated"] = True
        status, text = _wsgi_call(flask, environ)
        pulled = stream.pulled
    assert status == 413, text[:300]
    assert "web.form_too_large" in text
    assert pulled <= LIMIT + max(PIECE, CHUNK_BYTES)


class _Pieces:
    """A file-like body made of ``pieces``."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = b""

    def read(self, size: int = -1) -> bytes:
        if not self._left:
            self._left = next(self._pieces, b"")
        size = len(self._left) if size < 0 else size
        out, self._left = self._left[:size], self._left[size:]
        return out


def _wsgi_call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[int, str]:
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        status.append(line)

    body = b"".join(app(environ, start_response))
    return int(status[0].split()[0]), body.decode()


def test_an_announced_length_over_the_limit_is_refused_before_reading(limited: Limited) -> None:
    big = b"step=x&login=" + b"a" * LIMIT
    refused = limited.http.post(
        "/auth/local", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert refused.status_code == 413
    assert "close" in refused.headers["connection"].lower()
    assert limited.counter.pulled <= limited.most_read()


# -- the SAML repost page --------------------------------------------------------------------


def test_the_repost_page_echoes_only_the_saml_fields(limited: Limited) -> None:
    answer = "P" * (LIMIT // 2)
    junk = "J" * (LIMIT // 4)
    page = limited.http.post(
        "/auth/acs/saml",
        data={"SAMLResponse": answer, "RelayState": "rs", "junk": junk, "more": "zzz-more"},
    )
    assert page.status_code == 200, page.text[:300]
    assert answer in page.text and 'value="rs"' in page.text
    assert junk not in page.text and "zzz-more" not in page.text
    assert len(page.content) < LIMIT // 2 + 16 * 1024


def test_the_repost_page_never_echoes_a_body_over_the_limit(limited: Limited) -> None:
    answer = send_chunked(
        limited.port, "/auth/acs/saml", iter([b"SAMLResponse=", *pieces(LIMIT * 4)])
    )
    assert_refused(answer)
    assert "aaaa" not in answer.body
    assert len(answer.body) < 16 * 1024


# -- fields, query, headers -------------------------------------------------------------------


def test_too_many_fields_are_refused(limited: Limited) -> None:
    pairs = "&".join(f"f{i}=1" for i in range(limited.config.max_form_fields + 1))
    refused = limited.http.post(
        "/auth/local",
        content=pairs,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 413
    assert "web.too_many_fields" in refused.text


def test_a_field_over_its_limit_is_refused(world: World) -> None:
    served = Limited(world, attrs.evolve(world.config, max_field_bytes=1024))
    try:
        refused = served.http.post("/auth/local", data={"step_id": "s", "login": "л" * 600})
        assert refused.status_code == 413
        assert "web.field_too_large" in refused.text
    finally:
        served.close()


def test_a_malformed_form_is_refused(limited: Limited) -> None:
    for body in (b"step", b"step=%ff", b"a=1&&b=2", "шаг=1".encode()):
        refused = limited.http.post(
            "/auth/local",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 400, body
        assert "web.bad_form" in refused.text


def test_a_long_query_string_is_refused(limited: Limited) -> None:
    long = limited.http.get("/auth/login", params={"next": "/" + "a" * 8192})
    assert long.status_code == 414
    assert "web.query_too_large" in long.text
    many = "&".join(f"p{i}=1" for i in range(limited.config.max_form_fields + 1))
    assert limited.http.get("/auth/login?" + many).status_code == 414


def test_too_many_headers_are_refused(world: World) -> None:
    served = Limited(world, attrs.evolve(world.config, max_headers=20))
    try:
        headers = {f"X-Extra-{i}": "1" for i in range(21)}
        refused = served.http.get("/auth/login", headers=headers)
        assert refused.status_code == 431
        assert "web.headers_too_large" in refused.text
        assert served.http.get("/grades", headers=headers).status_code == 431
    finally:
        served.close()


def test_a_multipart_form_within_the_limits_reaches_the_view(limited: Limited) -> None:
    page = limited.http.get("/auth/login")
    form = {"step_id": field(page.text, "step_id"), "org": "sch1", "login": "smirnova"}
    done = limited.http.post("/auth/local", data={**form, "password": PASSWORD})
    assert done.status_code == 303, done.text
    token = field(limited.http.get("/grades").text, "csrf_token")
    saved = limited.http.post(
        "/grades",
        data={"csrf_token": token, "grade": "5"},
        files={"scan": ("scan.txt", b"x" * 1024, "text/plain")},
    )
    assert saved.status_code == 200, saved.text
    assert "grade=5" in saved.text
    refused = limited.http.post(
        "/grades",
        data={"csrf_token": token},
        files={"scan": ("scan.txt", b"x" * (LIMIT + 1), "text/plain")},
    )
    assert refused.status_code == 413
