"""The fault proxy of the load and fault tests: forwards, refuses, hangs and resumes."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from helpers.fault_proxy import FaultProxy, Mode


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: socketserver.ThreadingTCPServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo.server_address[1]) as running:
        yield running


def _connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    sock.settimeout(2)
    return sock


def _closed(sock: socket.socket) -> bool:
    """Whether the peer closed or reset ``sock`` (within its timeout)."""
    try:
        return sock.recv(10) == b""
    except ConnectionError:
        return True


def _refused(proxy: FaultProxy) -> bool:
    """Whether a new connection is reset (while connecting or right after)."""
    try:
        sock = _connect(proxy)
    except ConnectionError:
        return True
    with sock:
        return _closed(sock)


def _silent(sock: socket.socket, seconds: float = 0.3) -> bool:
    sock.settimeout(seconds)
    try:
        sock.recv(10)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(2)
    return False


def test_it_forwards_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert sock.recv(10) == b"hello"
        assert proxy.open_connections == 1


def test_refuse_resets_open_and_new_connections(proxy: FaultProxy) -> None:
    with _connect(proxy) as open_one:
        open_one.sendall(b"x")
        assert open_one.recv(1) == b"x"
        started = time.monotonic()
        proxy.set_mode(Mode.REFUSE)
        assert _closed(open_one)
        assert time.monotonic() - started < 1
    assert _refused(proxy)
    assert proxy.open_connections == 0


def test_hang_forwards_nothing_and_pass_resumes(
    proxy: FaultProxy, echo: socketserver.ThreadingTCPServer
) -> None:
    with _connect(proxy) as old:
        old.sendall(b"a")
        assert old.recv(1) == b"a"
        proxy.set_mode(Mode.HANG)
        old.sendall(b"b")
        assert _silent(old)
        with _connect(proxy) as new:  # accepted, but it reaches nothing
            new.sendall(b"c")
            assert _silent(new)
            assert proxy.open_connections == 2
            proxy.set_mode(Mode.PASS)
            assert old.recv(1) == b"b"  # the partition ended: held bytes arrive
            assert new.recv(1) == b"c"


def test_stop_closes_every_connection_and_thread(echo: socketserver.ThreadingTCPServer) -> None:
    before = threading.active_count()
    proxy = FaultProxy("127.0.0.1", echo.server_address[1]).start()
    socks = [_connect(proxy) for _ in range(5)]
    for sock in socks:
        sock.sendall(b"z")
        assert sock.recv(1) == b"z"
    proxy.set_mode(Mode.HANG)
    proxy.stop()
    for sock in socks:
        assert _closed(sock)
        sock.close()
    assert proxy.open_connections == 0
    deadline = time.monotonic() + 2
    while threading.active_count() > before + 5 and time.monotonic() < deadline:
        time.sleep(0.05)  # the echo server's own handler threads end after the resets
    assert not [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


def test_an_upstream_that_is_gone_closes_the_client(proxy: FaultProxy) -> None:
    proxy.upstream = ("127.0.0.1", _unused_port())
    assert _refused(proxy)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
