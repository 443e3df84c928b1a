"""The relying party's HTTP client reads an IdP's answers within a cap, while they stream
in, and never waits without a limit."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from helpers.waits import in_time
from sso_bridge.errors import BridgeError
from sso_bridge.oidc import HttpxClient

CAP = 64 * 1024
PIECE = 8 * 1024
URL = "https://idp.example/token"


class Endless(httpx.SyncByteStream):
    """An answer body that never ends, counting what the client pulled."""

    def __init__(self, piece: bytes = b"a" * PIECE) -> None:
        self.piece = piece
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.pulled += len(self.piece)
            yield self.piece

    def close(self) -> None:
        self.closed = True


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def client_answering(
    response: httpx.Response, seen: list[httpx.Request] | None = None
) -> HttpxClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return response

    transport = httpx.MockTransport(handler)
    return HttpxClient(httpx.Client(transport=transport), max_response_bytes=CAP)


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_answer_over_the_cap_is_refused_without_being_read_whole(method: str) -> None:
    body = Endless()
    http = client_answering(httpx.Response(200, stream=body))
    with refused("oidc.response_too_large"):
        if method == "get":
            http.get(URL)
        else:
            http.post(URL, data={"grant_type": "authorization_code"})
    assert body.pulled <= CAP + PIECE
    assert body.closed


def test_an_announced_length_over_the_cap_is_refused_before_reading() -> None:
    body = Endless()
    headers = {"Content-Length": str(CAP + 1)}
    http = client_answering(httpx.Response(200, headers=headers, stream=body))
    with refused("oidc.response_too_large"):
        http.get(URL)
    assert body.pulled == 0


def test_an_answer_within_the_cap_is_read() -> None:
    payload = b'{"access_token": "' + b"t" * (CAP - 100) + b'"}'
    seen: list[httpx.Request] = []
    http = client_answering(httpx.Response(200, content=payload), seen)
    answer = http.get(URL, headers={"Accept": "application/json"})
    assert answer.body == payload
    assert seen[0].headers["accept-encoding"] == "identity"


def test_a_compressed_answer_is_refused_since_it_could_inflate_past_the_cap() -> None:
    bomb = gzip.compress(b"{" + b" " * (CAP * 50) + b"}")
    assert len(bomb) < CAP
    headers = {"Content-Encoding": "gzip"}
    http = client_answering(httpx.Response(200, headers=headers, content=bomb))
    with refused("oidc.bad_response"):
        http.get(URL)


def test_the_limits_are_configurable_and_checked() -> None:
    with refused("oidc.config_invalid"):
        HttpxClient(max_response_bytes=0)
    with refused("oidc.config_invalid"):
        HttpxClient(timeout=float("nan"))
    with refused("oidc.config_invalid"):
        HttpxClient(deadline=-1)


# -- against a real socket ----------------------------------------------------------------


class Server:
    """A TCP server on loopback that runs ``serve`` for its first client."""

    def __init__(self, serve: Callable[[Server, socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self._serve = serve
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            connection, _ = self.sock.accept()
        except OSError:
            return
        with connection, contextlib.suppress(OSError):  # the client hung up, as it should
            self._serve(self, connection)

    def close(self) -> None:
        self.sock.close()
        self._thread.join(15)


def endless_chunks(server: Server, connection: socket.socket) -> None:
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"a" * PIECE
    while True:
        connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        server.sent += len(piece)


def trickle(server: Server, connection: socket.socket) -> None:
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        connection.sendall(b" ")
        time.sleep(0.1)


def silent(server: Server, connection: socket.socket) -> None:
    connection.recv(65536)
    time.sleep(10)


def test_an_endless_answer_from_a_server_is_cut_off_at_the_cap() -> None:
    server = Server(endless_chunks)
    try:
        with HttpxClient(max_response_bytes=CAP) as http:
            error = in_time(lambda: http.get(f"http://127.0.0.1:{server.port}/jwks"), 10)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.response_too_large"
    finally:
        server.close()


def test_an_answer_that_trickles_in_is_given_up_at_the_deadline() -> None:
    server = Server(trickle)
    try:
        with HttpxClient(timeout=2, deadline=1) as http:
            started = time.monotonic()
            error = in_time(lambda: http.get(f"http://127.0.0.1:{server.port}/userinfo"), 5)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.http_error"
        assert time.monotonic() - started < 4
    finally:
        server.close()


def test_a_given_client_without_timeouts_still_gets_one() -> None:
    server = Server(silent)
    try:
        http = HttpxClient(httpx.Client(timeout=None), timeout=0.5)  # noqa: S113 - the point
        error = in_time(lambda: http.get(f"http://127.0.0.1:{server.port}/.well-known"), 5)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.http_error"
        http.close()
    finally:
        server.close()
