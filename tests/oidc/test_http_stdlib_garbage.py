"""StdlibHttpClient against answers that are damaged at random: whatever a server sends, the
client returns an answer or refuses with one of its three codes, within its time limits,
and never raises anything else."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from sso_bridge.errors import BridgeError
from sso_bridge.oidc import StdlibHttpClient

CASES = 200
CAP = 4096
CODES = {"oidc.http_error", "oidc.response_too_large", "oidc.bad_response"}
BODY = b'{"access_token": "t", "token_type": "Bearer", "id_token": "a.b.c"}'
GOOD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    b"Cache-Control: no-store\r\n\r\n%s" % (len(BODY), BODY),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"
    % (BODY[:16], len(BODY) - 16, BODY[16:]),
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n%s" % BODY,
)
PIECES = [b"\r\n", b"\r\n\r\n", b":", b" ", b"\x00", b"\xff", b"-1", b"99999999999999999999",
          b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"HTTP/1.1 ",
          b"Content-Encoding: gzip\r\n", b"ffffffffffff\r\n", b"100 Continue\r\n\r\n"]  # fmt: skip


def damaged(rng: random.Random) -> bytes:
    """One of the good answers with a few random edits: bytes flipped, pieces of HTTP put
    in, parts cut out or repeated, or the answer cut short."""
    data = bytearray(rng.choice(GOOD))
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(5)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:
            data[at:at] = rng.choice(PIECES)
        elif kind == 2:
            del data[at : at + rng.randint(1, 12)]
        elif kind == 3:
            data[at:at] = data[at : at + rng.randint(1, 40)] * rng.randint(1, 3)
        else:
            data[at:] = b""
    return bytes(data)


@pytest.fixture
def garbage_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that answers each connection's first request with the next queued answer,
    then closes it."""
    queue: list[bytes] = []
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.1)  # so that the loop sees the stop
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                connection, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                try:
                    connection.settimeout(2)
                    connection.recv(65536)
                    connection.sendall(queue.pop(0) if queue else b"")
                    connection.shutdown(socket.SHUT_WR)
                    connection.recv(1)  # until the client closes its end
                except OSError:
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/token", queue
    finally:
        stop.set()
        sock.close()
        thread.join(5)


def _outcome(http: StdlibHttpClient, url: str) -> str:
    """``answer <status>``, or the code the client refused with."""
    try:
        got = http.post(url, data={"grant_type": "authorization_code", "code": "c"})
    except BridgeError as exc:
        return exc.code
    assert len(got.body) <= CAP
    return f"answer {got.status}"


def test_a_damaged_answer_is_read_or_refused_with_a_code_and_in_time(
    garbage_server: tuple[str, list[bytes]],
) -> None:
    url, queue = garbage_server
    rng = random.Random(20261207)  # noqa: S311 - reproducible damage, not secrets
    outcomes: dict[str, int] = {}
    with StdlibHttpClient(timeout=1, deadline=2, max_response_bytes=CAP, max_idle=0) as http:
        for case in range(CASES):
            sent = damaged(rng)
            queue.append(sent)
            started = time.monotonic()
            outcome = _outcome(http, url)
            assert outcome in CODES or outcome.startswith("answer"), (case, sent, outcome)
            took = time.monotonic() - started
            assert took < 3.0, (case, sent, outcome, took)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # the damage is varied enough that some answers still read and others are refused
    assert any(o.startswith("answer") for o in outcomes), outcomes
    assert any(o in CODES for o in outcomes), outcomes
