"""An :class:`~sso_bridge.oidc.http.HttpClient` over the standard library's ``http.client``,
keeping connections alive between exchanges."""

from __future__ import annotations

import http.client
import io
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, NamedTuple, cast
from urllib.parse import quote, urlencode, urlsplit

from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.http import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    HttpResponse,
    _too_large,
    check_positive,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_Origin = tuple[str, str, int]
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_TRANSPORT_ERRORS: Final = (OSError, http.client.HTTPException, ValueError)
_PIECE: Final = 64 * 1024
_FORM: Final = "application/x-www-form-urlencoded"
_HEAD_BYTES: Final = 64 * 1024  # status line and headers, on top of the body's cap


class StdlibHttpClient:
    """:class:`~sso_bridge.oidc.http.HttpClient` over ``http.client``, with the guarantees of
    :class:`~sso_bridge.oidc.http.HttpxClient` for about a third of its CPU per request.

    Answers are asked for uncompressed (a compressed one is ``oidc.bad_response``) and read
    within ``max_response_bytes`` (``oidc.response_too_large``, the connection closed
    unread). Every socket wait has ``timeout`` seconds, the whole exchange ``deadline``
    seconds; these and every transport failure are ``oidc.http_error``. Redirects are not
    followed: a 3xx is returned as it is.

    Up to ``max_idle`` connections per origin are kept for ``idle_timeout`` seconds and
    reused, one exchange at a time, from any thread; a process forked after a request
    opens its own. TLS uses ``ssl_context`` (by default ``ssl.create_default_context()``:
    certificates and host names checked). Nothing is read from the environment: a forward
    proxy (``http://host:port``, CONNECT for https) is used only when given as ``proxy``.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float = DEFAULT_DEADLINE,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        max_idle: int = 4,
        idle_timeout: float = 4.0,
    ) -> None:
        check_positive(
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            deadline=deadline,
            idle_timeout=idle_timeout,
        )
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 0:
            raise OidcError(
                "max_idle must be a whole number, 0 or more", code="oidc.config_invalid"
            )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise OidcError("ssl_context must be an ssl.SSLContext", code="oidc.config_invalid")
        self._timeout = float(timeout)
        self.max_response_bytes = max_response_bytes
        self.deadline = deadline
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._proxy = _proxy_address(proxy)
        self._ssl = ssl_context or ssl.create_default_context()
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[tuple[_Link, float]]] = {}
        self._pid = os.getpid()
        self._closed = False

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET ``url``; transport failures become ``oidc.http_error``."""
        return self._exchange("GET", url, None, headers or {})

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST a form to ``url``; transport failures become ``oidc.http_error``."""
        return self._exchange("POST", url, urlencode(data).encode("ascii"), headers or {})

    def close(self) -> None:
        """Close the idle connections; those in use close when their exchange ends."""
        with self._lock:
            self._closed = True
            links = [link for idle in self._idle.values() for link, _ in idle]
            self._idle.clear()
        for link in links:
            link.close()

    def __enter__(self) -> StdlibHttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResponse:
        ends = time.monotonic() + self.deadline
        try:
            origin, target = self._locate(url)
            fields = _fields(headers, form=body is not None)
            request = _Request(method, url, origin, target, body, fields, ends)
            link = self._take(origin)
            if link is not None:
                try:
                    return self._send(link, request)
                except (ConnectionResetError, BrokenPipeError):
                    # The server dropped a kept connection as we reused it. A GET that got
                    # no byte of answer is safe to send again; a POST (a single-use code
                    # exchange) is not.
                    if method != "GET" or link.clock.received:
                        raise
            return self._send(self._open(origin, ends), request)
        except _Oversized:
            raise _too_large(url, self.max_response_bytes) from None
        except _TRANSPORT_ERRORS as exc:
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise OidcError(f"{method} {url} failed: {detail}", code="oidc.http_error") from None

    def _locate(self, url: str) -> tuple[_Origin, str]:
        """The origin to connect to and the request target; ``ValueError`` if unusable."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError("only http and https URLs are fetched")
        if "@" in parts.netloc:
            raise ValueError("credentials in the URL are refused")
        host, port = parts.hostname, parts.port
        if not host or port == 0:
            raise ValueError("the URL names no host or port")
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not target.isascii():
            target = quote(target, safe="/?=&;:@!$'()*+,~%")
        if self._proxy is not None and parts.scheme == "http":
            authority = f"[{host}]" if ":" in host else host
            target = f"http://{authority}{f':{port}' if port else ''}{target}"
        return (parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme]), target

    def _open(self, origin: _Origin, ends: float) -> _Link:
        scheme, host, port = origin
        clock = _Clock(self._timeout, self.deadline, self.max_response_bytes + _HEAD_BYTES)
        clock.start(ends)
        address = self._proxy or (host, port)
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(*address, timeout=clock.step(), context=self._ssl)
            if self._proxy is not None:
                conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(*address, timeout=clock.step())
        conn.auto_open = 0  # never reconnect behind our back, with an unbounded socket
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        conn.sock = cast(socket.socket, _Wire(conn.sock, clock))
        return _Link(conn, clock)

    def _send(self, link: _Link, request: _Request) -> HttpResponse:
        """One exchange on ``link``, which is kept afterwards if it can be."""
        link.clock.start(request.ends)
        response = None
        try:
            link.conn.request(request.method, request.target, request.body, request.fields)
            response = link.conn.getresponse()
            answer = self._answer(response, request.url)
        except BaseException:
            if response is not None:
                response.close()
            link.close()
            raise
        if response.will_close:
            link.close()
        else:
            self._give_back(request.origin, link)
        return answer

    def _answer(self, response: http.client.HTTPResponse, url: str) -> HttpResponse:
        limit = self.max_response_bytes
        if response.length is not None and response.length > limit:
            raise _too_large(url, limit)
        encoding = (response.getheader("content-encoding") or "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise OidcError(
                f"the answer of {url} is compressed ({encoding[:32]}), which was not asked for",
                code="oidc.bad_response",
            )
        if response.length is not None:
            body = response.read()
        else:  # chunked, or until the server closes: cut off as soon as it passes the cap
            buffer = bytearray()
            while not response.isclosed():
                buffer += response.read1(min(_PIECE, limit + 1 - len(buffer)))
                if len(buffer) > limit:
                    raise _too_large(url, limit)
            body = bytes(buffer)
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return HttpResponse(status=response.status, headers=headers, body=body)

    def _take(self, origin: _Origin) -> _Link | None:
        """An idle connection to ``origin`` still fit for use, out of the pool."""
        stale: list[_Link] = []
        found = None
        with self._lock:
            pid = os.getpid()
            if pid != self._pid:  # forked: the parent's connections are not ours to use
                self._pid = pid
                stale = [link for idle in self._idle.values() for link, _ in idle]
                self._idle.clear()
            idle = self._idle.get(origin)
            now = time.monotonic()
            while idle:
                link, since = idle.pop()
                # readable while idle: the server closed it, or sent what nobody asked for
                if now - since <= self.idle_timeout and not _readable(link.conn.sock):
                    found = link
                    break
                stale.append(link)
        for link in stale:
            link.close()
        return found

    def _give_back(self, origin: _Origin, link: _Link) -> None:
        extra: _Link | None = link
        with self._lock:
            if not self._closed and self.max_idle:
                idle = self._idle.setdefault(origin, [])
                idle.append((link, time.monotonic()))
                extra = idle.pop(0)[0] if len(idle) > self.max_idle else None
        if extra is not None:
            extra.close()


class _Oversized(Exception):
    """An answer longer than its cap and :data:`_HEAD_BYTES`."""


class _Request(NamedTuple):
    method: str
    url: str
    origin: _Origin
    target: str
    body: bytes | None
    fields: dict[str, str]
    ends: float


class _Clock:
    """The time left to one exchange, which bounds each socket wait."""

    __slots__ = ("allowed", "deadline", "ends", "received", "timeout")

    def __init__(self, timeout: float, deadline: float, allowed: int) -> None:
        self.timeout, self.deadline, self.allowed = timeout, deadline, allowed
        self.ends, self.received = 0.0, 0

    def start(self, ends: float) -> None:
        self.ends = ends
        self.received = 0

    def step(self) -> float:
        """Seconds the next socket wait may take: ``timeout``, or less near the deadline."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self.deadline:g} s")
        return min(self.timeout, left)


class _Link:
    __slots__ = ("clock", "conn")

    def __init__(self, conn: http.client.HTTPConnection, clock: _Clock) -> None:
        self.conn, self.clock = conn, clock

    def close(self) -> None:
        self.conn.close()


class _Wire:
    """A connected socket as ``http.client`` uses it, every wait bounded by the clock."""

    __slots__ = ("clock", "sock")

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        self.sock, self.clock = sock, clock

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(self.clock.step())
        self.sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_TimedReader(self.sock, self.clock))

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


class _TimedReader(io.RawIOBase):
    """The socket's reads, each given at most the time the clock allows; so a status line,
    header or body trickled in a byte at a time still ends at the deadline."""

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock
        # a counted reference: the socket stays open until the answer is read
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        self._sock.settimeout(self._clock.step())
        count = self._raw.readinto(buffer)
        clock = self._clock
        clock.received += count or 0
        # the head counts too: http.client alone would take 100 header lines of 64 KiB each
        if clock.received > clock.allowed:
            raise _Oversized
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def _readable(sock: socket.socket | None) -> bool:
    if sock is None:
        return True
    if hasattr(select, "poll"):  # select.select cannot take descriptors over 1023
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock.fileno()], [], [], 0)[0])


def _fields(headers: Mapping[str, str], *, form: bool) -> dict[str, str]:
    given = {name.lower() for name in headers}
    fields = {} if "user-agent" in given else {"User-Agent": "sso-bridge"}
    if form and "content-type" not in given:
        fields["Content-Type"] = _FORM
    fields.update((k, v) for k, v in headers.items() if k.lower() != "accept-encoding")
    fields["Accept-Encoding"] = "identity"  # an answer counted as it arrives: none inflates
    return fields


def _proxy_address(proxy: str | None) -> tuple[str, int] | None:
    if proxy is None:
        return None
    try:
        parts = urlsplit(proxy) if isinstance(proxy, str) else None
        if parts is None or parts.scheme != "http" or parts.path not in ("", "/"):
            raise ValueError
        if "@" in parts.netloc or parts.query or parts.fragment or not parts.hostname:
            raise ValueError
        port = 80 if parts.port is None else parts.port
        if not port:
            raise ValueError
        host = parts.hostname
        return host if host.isascii() else host.encode("idna").decode("ascii"), port
    except ValueError:
        raise OidcError(
            "proxy must be an http://host:port URL, without credentials or path",
            code="oidc.config_invalid",
        ) from None
