"""StdlibHttpClient keeps HttpxClient's guarantees (answers read within a cap, while they
arrive; no wait without a limit; transport failures typed) and keeps connections alive
safely: against real servers on loopback."""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from helpers.waits import in_time
from sso_bridge.errors import BridgeError
from sso_bridge.oidc import StdlibHttpClient, http_stdlib

CAP = 64 * 1024
PIECE = 8 * 1024
JSON = b'{"issuer": "https://idp.example/", "keys": []}'


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def answer(body: bytes = JSON, *lines: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in lines)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


@attrs.frozen
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


class Server:
    """A TCP server on loopback that runs ``serve`` for each client, in a thread of its own,
    recording the requests it reads and the connections the client closed."""

    def __init__(
        self,
        serve: Callable[[Server, socket.socket, int], None],
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family)
        self.port = self.sock.getsockname()[1]
        self.host = f"[{host}]" if ":" in host else host
        self.connections = 0
        self.requests: list[Request] = []
        self.hangups: list[int] = []
        self.sent = 0
        self.done = threading.Event()
        self._serve = serve
        self._tls = tls
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path: str = "/jwks", scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            number = self.connections
            threading.Thread(target=self._run, args=(connection, number), daemon=True).start()

    def _run(self, connection: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), connection:  # the client hung up, or refused TLS
            if self._tls is not None:
                connection = self._tls.wrap_socket(connection, server_side=True)
            with connection:
                self._serve(self, connection, number)

    def read(self, stream: BinaryIO, number: int) -> Request | None:
        """The next request on the connection, or None when the client closed it."""
        line = stream.readline()
        if not line:
            self.hangups.append(number)
            return None
        method, target, _ = line.decode().split(" ", 2)
        headers = {}
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            key, value = name.strip().lower(), value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = stream.read(int(headers.get("content-length", "0")))
        request = Request(method, target, headers, body, number)
        self.requests.append(request)
        return request

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        self.sock.close()
        self._thread.join(15)
        assert not self._thread.is_alive()


@contextlib.contextmanager
def serving(
    serve: Callable[[Server, socket.socket, int], None], tls: ssl.SSLContext | None = None
) -> Iterator[Server]:
    server = Server(serve, tls)
    try:
        yield server
    finally:
        server.close()


def keep_alive(server: Server, connection: socket.socket, number: int) -> None:
    stream = connection.makefile("rb")
    while server.read(stream, number) is not None:
        connection.sendall(answer(JSON, "Content-Type: application/json", "X-Seen: a", "x-seen: b"))


def one_then_close(server: Server, connection: socket.socket, number: int) -> None:
    """Answers one request, then closes the kept connection while it is idle."""
    if number > 1:
        return keep_alive(server, connection, number)
    server.read(connection.makefile("rb"), number)
    connection.sendall(answer())
    connection.close()
    server.done.set()
    return None


def hang_up_on_second(server: Server, connection: socket.socket, number: int) -> None:
    """Answers one request, reads the next and hangs up without answering it."""
    if number > 1:
        return keep_alive(server, connection, number)
    stream = connection.makefile("rb")
    server.read(stream, number)
    connection.sendall(answer())
    server.read(stream, number)
    return None


def eventually(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    ends = time.monotonic() + seconds
    while not check():
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


# -- what is sent and read ------------------------------------------------------------------


def test_an_answer_is_read_with_its_headers_lower_cased_and_joined() -> None:
    with serving(keep_alive) as server, StdlibHttpClient() as http:
        response = http.get(server.url("/jwks?x=1"), headers={"Accept": "application/json"})
    assert response.status == 200
    assert response.body == JSON
    assert response.json_object("JWKS")["issuer"] == "https://idp.example/"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-seen"] == "a, b"
    (seen,) = server.requests
    assert (seen.method, seen.target) == ("GET", "/jwks?x=1")
    assert seen.headers["accept-encoding"] == "identity"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["user-agent"] == "sso-bridge"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"


def test_a_form_is_posted_uncompressed_answers_asked_for() -> None:
    headers = {"accept-encoding": "gzip", "User-Agent": "portal", "Authorization": "Basic eA=="}
    with serving(keep_alive) as server, StdlibHttpClient() as http:
        data = {"grant_type": "authorization_code", "code": "a b&c=д"}
        response = http.post(server.url("/token"), data=data, headers=headers)
    assert response.status == 200
    (seen,) = server.requests
    assert (seen.method, seen.target) == ("POST", "/token")
    assert seen.body == b"grant_type=authorization_code&code=a+b%26c%3D%D0%B4"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["content-length"] == str(len(seen.body))
    assert seen.headers["accept-encoding"] == "identity"
    assert seen.headers["user-agent"] == "portal"
    assert seen.headers["authorization"] == "Basic eA=="


def test_a_redirect_is_returned_not_followed() -> None:
    def redirect(server: Server, connection: socket.socket, number: int) -> None:
        while server.read(connection.makefile("rb"), number) is not None:
            connection.sendall(answer(b"", "Location: /elsewhere").replace(b"200 OK", b"302 Found"))

    with serving(redirect) as server, StdlibHttpClient() as http:
        response = http.get(server.url())
    assert (response.status, response.headers["location"]) == (302, "/elsewhere")
    assert [r.target for r in server.requests] == ["/jwks"]


def test_an_ipv6_literal_is_reached() -> None:
    try:
        server = Server(keep_alive, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        with StdlibHttpClient() as http:
            assert http.get(server.url()).body == JSON
    finally:
        server.close()
    assert server.requests[0].headers["host"] == f"[::1]:{server.port}"


# -- connections kept -----------------------------------------------------------------------


def test_one_connection_serves_one_exchange_after_another() -> None:
    with serving(keep_alive) as server, StdlibHttpClient() as http:
        http.get(server.url())
        http.post(server.url("/token"), data={"code": "c"})
        http.get(server.url("/userinfo"))
    assert server.connections == 1
    assert [r.method for r in server.requests] == ["GET", "POST", "GET"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_connection_the_server_closed_while_idle_is_not_reused(method: str) -> None:
    # a POST is never sent twice: it succeeding shows the closed connection was seen before
    with serving(one_then_close) as server, StdlibHttpClient() as http:
        http.get(server.url())
        assert server.done.wait(5)
        time.sleep(0.05)  # the server's FIN crosses loopback
        if method == "get":
            response = http.get(server.url())
        else:
            response = http.post(server.url("/token"), data={"code": "c"})
    assert response.status == 200
    assert server.connections == 2
    assert [r.connection for r in server.requests] == [1, 2]


def test_a_get_the_server_hung_up_on_is_sent_again_on_a_new_connection() -> None:
    with serving(hang_up_on_second) as server, StdlibHttpClient() as http:
        http.get(server.url())
        response = http.get(server.url("/again"))
    assert response.status == 200
    assert [(r.target, r.connection) for r in server.requests] == [
        ("/jwks", 1),
        ("/again", 1),
        ("/again", 2),
    ]


def test_a_post_the_server_hung_up_on_is_never_sent_again() -> None:
    with serving(hang_up_on_second) as server, StdlibHttpClient() as http:
        http.get(server.url())
        with refused("oidc.http_error") as error:
            http.post(server.url("/token"), data={"code": "single-use"})
    assert error.value.message.startswith(f"POST {server.url('/token')} failed: ")
    assert "\n" not in error.value.message
    assert [r.method for r in server.requests] == ["GET", "POST"]
    assert server.connections == 1


def test_idle_connections_over_max_idle_are_closed_and_close_closes_the_rest() -> None:
    both = threading.Barrier(2, timeout=5)

    def together(server: Server, connection: socket.socket, number: int) -> None:
        stream = connection.makefile("rb")
        while server.read(stream, number) is not None:
            both.wait()  # both requests in flight at once: two connections
            connection.sendall(answer())

    with serving(together) as server:
        http = StdlibHttpClient(max_idle=1)
        threads = [threading.Thread(target=http.get, args=(server.url(),)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert len(server.requests) == 2
        assert server.connections == 2
        assert eventually(lambda: len(server.hangups) == 1)
        time.sleep(0.05)
        assert len(server.hangups) == 1
        http.close()
        assert eventually(lambda: len(server.hangups) == 2)


def test_a_connection_idle_longer_than_idle_timeout_is_not_reused() -> None:
    with serving(keep_alive) as server, StdlibHttpClient(idle_timeout=0.05) as http:
        http.get(server.url())
        time.sleep(0.1)
        http.get(server.url())
        assert eventually(lambda: server.hangups == [1])
    assert server.connections == 2


def test_a_forked_process_does_not_use_its_parents_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serving(keep_alive) as server, StdlibHttpClient() as http:
        http.get(server.url())
        parent = os.getpid()
        monkeypatch.setattr(http_stdlib.os, "getpid", lambda: parent + 1)
        http.get(server.url())
        http.get(server.url())  # the child's own connection is kept
    assert [r.connection for r in server.requests] == [1, 2, 2]


# -- the cap ----------------------------------------------------------------------------------


def endless_chunks(server: Server, connection: socket.socket, number: int) -> None:
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIECE)  # little kept in flight
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"a" * PIECE
    try:
        while True:
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            server.sent += len(piece)
    finally:
        server.done.set()  # the client hung up


def test_an_endless_chunked_answer_is_cut_off_at_the_cap() -> None:
    with serving(endless_chunks) as server:
        with StdlibHttpClient(max_response_bytes=CAP) as http:
            error = in_time(lambda: http.get(server.url()), 10)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.response_too_large"
        assert server.done.wait(2)
        # what the client read, plus what its receive buffer held when it hung up
        assert server.sent < CAP + 256 * 1024


def test_an_announced_length_over_the_cap_is_refused_before_reading() -> None:
    def announce(server: Server, connection: socket.socket, number: int) -> None:
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (CAP + 1))
        connection.sendall(b"a" * PIECE)  # and then nothing: reading would wait
        with contextlib.suppress(OSError):  # reset: the client left the piece unread
            connection.recv(1)
        server.done.set()

    with serving(announce) as server, StdlibHttpClient(max_response_bytes=CAP, timeout=5) as h:
        error = in_time(lambda: h.get(server.url()), 2)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.response_too_large"
        assert server.done.wait(2)  # and the connection is closed, not kept


def test_headers_count_against_the_cap() -> None:
    """http.client alone takes 100 header lines of 64 KiB each; the client stops reading
    once the head and body together pass the cap and 64 KiB."""

    def fat_headers(server: Server, connection: socket.socket, number: int) -> None:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIECE)
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        try:
            for n in range(90):
                connection.sendall(b"X-Filler-%d: %s\r\n" % (n, b"a" * 60_000))
                server.sent += 60_000
        finally:
            server.done.set()

    with serving(fat_headers) as server, StdlibHttpClient(max_response_bytes=CAP) as http:
        error = in_time(lambda: http.get(server.url()), 10)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.response_too_large"
        assert server.done.wait(5)
    assert server.sent < 90 * 60_000 // 4  # cut off long before the end


def test_a_compressed_answer_is_refused() -> None:
    bomb = gzip.compress(b"{" + b" " * (CAP * 50) + b"}")
    assert len(bomb) < CAP

    def compressed(server: Server, connection: socket.socket, number: int) -> None:
        connection.recv(65536)
        connection.sendall(answer(bomb, "Content-Encoding: gzip"))

    with serving(compressed) as server, StdlibHttpClient(max_response_bytes=CAP) as http:
        error = in_time(lambda: http.get(server.url()), 5)
    assert isinstance(error, BridgeError)
    assert error.code == "oidc.bad_response"


# -- time limits and failures -------------------------------------------------------------


def trickle_body(server: Server, connection: socket.socket, number: int) -> None:
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        connection.sendall(b" ")
        time.sleep(0.1)


def trickle_headers(server: Server, connection: socket.socket, number: int) -> None:
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(100):
        connection.sendall(b"a")
        time.sleep(0.1)


@pytest.mark.parametrize("serve", [trickle_body, trickle_headers])
def test_an_answer_that_trickles_in_is_given_up_at_the_deadline(
    serve: Callable[[Server, socket.socket, int], None],
) -> None:
    with serving(serve) as server, StdlibHttpClient(timeout=2, deadline=1) as http:
        started = time.monotonic()
        error = in_time(lambda: http.get(server.url()), 5)
        assert isinstance(error, BridgeError)
        assert error.code == "oidc.http_error"
        assert time.monotonic() - started < 2


def test_a_silent_server_is_given_up_after_the_timeout() -> None:
    def silent(server: Server, connection: socket.socket, number: int) -> None:
        connection.recv(65536)
        server.done.wait(10)

    with serving(silent) as server, StdlibHttpClient(timeout=0.5) as http:
        started = time.monotonic()
        error = in_time(lambda: http.get(server.url()), 5)
        server.done.set()
    assert isinstance(error, BridgeError)
    assert error.code == "oidc.http_error"
    assert time.monotonic() - started < 1.5


def test_a_closed_port_is_an_http_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with StdlibHttpClient() as http, refused("oidc.http_error") as error:
        http.get(f"http://127.0.0.1:{port}/")
    assert error.value.message.startswith(f"GET http://127.0.0.1:{port}/ failed: ")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1:{port}/",
        "file:///etc/passwd",
        "http:///jwks",
        "http://:{port}/jwks",
        "http://user:secret@127.0.0.1:{port}/",
        "http://user@127.0.0.1:{port}/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:x/",
        "http://[::1/",
        "http://bü..b/",
        "127.0.0.1:{port}/jwks",
    ],
)
def test_a_bad_url_is_refused_before_anything_is_sent(url: str) -> None:
    with serving(keep_alive) as server, StdlibHttpClient() as http:
        with refused("oidc.http_error"):
            http.get(url.format(port=server.port))
        with refused("oidc.http_error"):
            http.post(url.format(port=server.port), data={"code": "c"})
    assert server.connections == 0


@pytest.mark.parametrize(
    "settings",
    [
        {"timeout": 0},
        {"timeout": float("nan")},
        {"deadline": -1},
        {"deadline": True},
        {"max_response_bytes": 0},
        {"max_response_bytes": "1"},
        {"max_idle": -1},
        {"max_idle": 1.5},
        {"idle_timeout": 0},
        {"ssl_context": "verify"},
        {"proxy": "https://proxy.example:3128"},
        {"proxy": "http://user:secret@proxy.example:3128"},
        {"proxy": "http://proxy.example:99999"},
        {"proxy": "http://proxy.example:3128/path"},
        {"proxy": "http://:3128"},
        {"proxy": 3128},
    ],
)
def test_the_settings_are_checked(settings: dict[str, object]) -> None:
    with refused("oidc.config_invalid"):
        StdlibHttpClient(**settings)  # type: ignore[arg-type]


# -- TLS and proxies ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1 and idp.example, and a
    client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sso-bridge test")])
    now = datetime.now(UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("idp.example")]
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = certificate.public_bytes(Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (folder / "key.pem").write_bytes(private)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, ssl.create_default_context(cadata=pem.decode())


def test_https_checks_the_certificate(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, trusting = tls
    with serving(keep_alive, server_context) as server:
        with StdlibHttpClient() as http, refused("oidc.http_error") as error:
            http.get(server.url(scheme="https"))
        assert "certificate" in error.value.message
        with StdlibHttpClient(ssl_context=trusting) as http:
            assert http.get(server.url(scheme="https")).body == JSON
            assert http.get(server.url(scheme="https")).status == 200
    assert server.connections == 2  # the refused one, then one kept for two exchanges


def test_http_through_a_proxy_asks_for_the_absolute_uri() -> None:
    with (
        serving(keep_alive) as proxy,
        StdlibHttpClient(proxy=f"http://127.0.0.1:{proxy.port}") as h,
    ):
        assert h.get("http://idp.example/jwks?x=1").body == JSON
        assert h.get("http://idp.example:8080/userinfo").status == 200
        assert h.get("http://Bücher.example/jwks").status == 200
    assert [(r.target, r.headers["host"]) for r in proxy.requests] == [
        ("http://idp.example/jwks?x=1", "idp.example"),
        ("http://idp.example:8080/userinfo", "idp.example:8080"),
        ("http://xn--bcher-kva.example/jwks", "xn--bcher-kva.example"),
    ]


def test_https_through_a_proxy_goes_through_a_checked_tunnel(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, trusting = tls
    tunnels: list[bytes] = []

    def tunnel(server: Server, connection: socket.socket, number: int) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += connection.recv(4096)
        tunnels.append(head.split(b"\r\n")[0])
        connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with server_context.wrap_socket(connection, server_side=True) as inner:
            keep_alive(server, inner, number)

    with serving(tunnel) as proxy:
        via = f"http://127.0.0.1:{proxy.port}"
        with StdlibHttpClient(proxy=via, ssl_context=trusting) as http:
            assert http.get("https://idp.example/jwks").body == JSON
        with StdlibHttpClient(proxy=via) as http, refused("oidc.http_error"):
            http.get("https://idp.example/jwks")
    assert tunnels == [b"CONNECT idp.example:443 HTTP/1.0"] * 2
    assert [(r.target, r.headers["host"]) for r in proxy.requests] == [("/jwks", "idp.example")]
