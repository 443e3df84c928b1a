"""A loopback TCP proxy in front of one server, whose network can fail on command.

:class:`FaultProxy` listens on ``127.0.0.1`` and forwards each connection to the upstream
``host:port``. :meth:`FaultProxy.set_mode` switches, while connections are open:

* ``pass``: bytes flow both ways;
* ``refuse``: the server is down - every open connection is reset at once and each new
  one is reset as soon as it is accepted;
* ``hang``: the server is unreachable but nothing says so - connections are accepted and
  kept, and nothing is forwarded either way (a new one does not reach the upstream);
* back to ``pass``: the partition ends - connections that hung resume where they stopped
  (what TCP's retransmission does once a network heals), those accepted meanwhile are
  connected to the upstream now.

Each connection has two threads (one per direction) and blocking sockets; a thread that
waits looks at the mode at least every :data:`TICK` seconds.
"""

from __future__ import annotations

import contextlib
import enum
import select
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["TICK", "FaultProxy", "Mode"]

TICK = 0.05
"""How often (seconds) a waiting connection thread looks at the mode again."""


class Mode(enum.StrEnum):
    """What the network between the clients and the upstream does."""

    PASS = "pass"
    REFUSE = "refuse"
    HANG = "hang"


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset (linger 0), as a host that is down answers."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Connection:
    """One client connection and, once it is made, its upstream connection."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        _reset(self.client)
        if self.upstream is not None:
            _reset(self.upstream)


class FaultProxy:
    """A TCP proxy on ``127.0.0.1:port`` to ``upstream_host:upstream_port``; a context
    manager. :attr:`url_port` is where clients connect."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._mode = Mode.PASS
        self._changed = threading.Condition()
        self._connections: set[_Connection] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self.accepted = 0
        """Connections accepted since the start (refused ones included)."""
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)

    # -- control ----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode | str) -> None:
        """Switch to ``mode``; ``refuse`` resets every open connection before returning."""
        with self._changed:
            self._mode = Mode(mode)
            self._changed.notify_all()
        if self._mode is Mode.REFUSE:
            for connection in self._open():
                connection.close()

    @property
    def open_connections(self) -> int:
        """Client connections currently open through the proxy."""
        return len(self._open())

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection; wait for the threads."""
        self._stopping = True
        with self._changed:
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._open():
            connection.close()
        self._acceptor.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the work ---------------------------------------------------------------------------

    def _open(self) -> list[_Connection]:
        with self._lock:
            return [c for c in self._connections if not c.closed]

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name="fault-proxy-conn", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                ready, _, _ = select.select([self._listener], [], [], TICK)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: stop() is under way
            self.accepted += 1
            if self._mode is Mode.REFUSE or self._stopping:
                _reset(client)
                continue
            connection = _Connection(client)
            with self._lock:
                self._connections.add(connection)
            self._spawn(self._connect, connection)

    def _wait_while_hanging(self, connection: _Connection) -> bool:
        """Block while the mode is ``hang``; False when the connection should end."""
        with self._changed:
            while self._mode is Mode.HANG and not self._stopping and not connection.closed:
                self._changed.wait(TICK)
        return self._mode is Mode.PASS and not self._stopping and not connection.closed

    def _connect(self, connection: _Connection) -> None:
        try:
            if not self._wait_while_hanging(connection):
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with connection._lock:
                closed = connection.closed
                if not closed:
                    connection.upstream = upstream
            if closed:
                _reset(upstream)
                return
            self._spawn(self._pump, connection, upstream, connection.client)
            self._pump(connection, connection.client, upstream)
        finally:
            if connection.upstream is None:
                connection.close()
            self._forget_if_closed(connection)

    def _pump(self, connection: _Connection, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` until either end closes or the proxy refuses."""
        try:
            while self._wait_while_hanging(connection):
                ready, _, _ = select.select([source], [], [], TICK)
                if not ready or self._mode is not Mode.PASS:
                    continue
                data = source.recv(65536)
                if not data:
                    return
                sink.sendall(data)
        except (OSError, ValueError):
            return  # ValueError: select() on a socket another thread closed
        finally:
            connection.close()
            self._forget_if_closed(connection)

    def _forget_if_closed(self, connection: _Connection) -> None:
        if connection.closed:
            with self._lock:
                self._connections.discard(connection)
