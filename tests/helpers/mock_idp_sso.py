"""Helpers of the single sign-on and logout tests: an IdP with a client that registered
logout addresses, a browser that logs in through the pages, and a loopback receiver of
back-channel logout tokens."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import secrets
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
from starlette.testclient import TestClient

from mock_idp.app import MockIdP, create_app
from sso_bridge import base64url

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://portal.test/cb"
AFTER_LOGOUT = "https://portal.test/bye"
MARIA_LOGIN, MARIA_PASSWORD, MARIA = "+7 (900) 000-01-01", "parol-101", 1000000101
OTHER_LOGIN, OTHER_PASSWORD, OTHER = "+7 (900) 000-01-07", "parol-107", 1000000107


def new_idp(**client: Any) -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.add_client(
        {
            "client_id": "portal",
            "secret": "s3cret",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [AFTER_LOGOUT],
            "require_pkce": False,
            **client,
        }
    )
    return idp


def browser(idp: MockIdP) -> TestClient:
    """A new browser (no cookies) that does not follow redirects."""
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False)


def authorize(http: TestClient, client_id: str = "portal", **extra: str) -> Any:
    """The IdP's answer to an authorization request: the login page or a redirect."""
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid fullname",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "nn-" + secrets.token_hex(4),
        **extra,
    }
    return http.get("/aas/oauth2/v2/ac", params=params)


def back(response: Any) -> dict[str, str]:
    """The query of a redirect to the client."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def txn_of(page: Any) -> str:
    assert page.status_code == 200, page.text
    found = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def finish_login(
    http: TestClient,
    idp: MockIdP,
    page: Any,
    login: str = MARIA_LOGIN,
    password: str = MARIA_PASSWORD,
) -> Any:
    """Password and SMS code on the login page ``page``; the IdP's last answer."""
    txn = txn_of(page)
    assert (
        http.post("/login", data={"txn": txn, "login": login, "password": password}).status_code
        == 200
    )
    return http.post("/login/code", data={"txn": txn, "code": idp.last_code()})


def log_in(http: TestClient, idp: MockIdP, **extra: str) -> dict[str, str]:
    """A whole login through the pages; the query the client gets back."""
    return back(finish_login(http, idp, authorize(http, **extra)))


def tokens(http: TestClient, code: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = http.post("/aas/oauth2/v3/te", data=form, auth=("portal", "s3cret"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims (unverified: the tests that verify say so)."""
    return dict(json.loads(base64url.decode(token.split(".")[1])))


def header(token: str) -> dict[str, Any]:
    return dict(json.loads(base64url.decode(token.split(".", maxsplit=1)[0])))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@attrs.define
class Receiver:
    """A loopback HTTP server that records the forms POSTed to it."""

    url: str
    bodies: list[dict[str, list[str]]]
    content_types: list[str]
    status: list[int]


def serve_receiver(status: int = 200) -> Iterator[Receiver]:
    """Run a :class:`Receiver` on 127.0.0.1 until the generator is closed."""
    bodies: list[dict[str, list[str]]] = []
    types: list[str] = []
    answer = [status]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            bodies.append(parse_qs(self.rfile.read(length).decode()))
            types.append(self.headers.get("Content-Type") or "")
            self.send_response(answer[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_port}/backchannel", bodies, types, answer)
    finally:
        server.shutdown()
        server.server_close()
