"""The integration examples of docs/integration.md: each builds its application, the Django
project signs a person in over Django's own server, and the docs show them as they are."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qsl, urlsplit

import flask
import httpx
import pytest

from helpers.accounts import ORGS
from mock_idp.server import RunningIdP, free_port
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.store import open_store
from web.support import SUBJECT, TEACHER

EXAMPLES = Path(__file__).parents[2] / "examples" / "integration"


@pytest.fixture
def environment(mock_idp: RunningIdP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {
        "BRIDGE_KEY": "ab" * 32,
        "BRIDGE_DB": f"sqlite:///{tmp_path / 'portal.db'}",
        "BRIDGE_EPHEMERAL": "memory:",
        "ESIA": mock_idp.idp.issuer,
        "ESIA_CLIENT": "portal",
        "ESIA_SECRET": "portal-secret",
        "SITE": "https://portal.example",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


@contextlib.contextmanager
def load(name: str) -> Iterator[ModuleType]:
    """The example ``name``, run as a module (it builds its app on import)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        if hasattr(module, "db"):
            module.db.close()


@pytest.mark.usefixtures("environment")
def test_the_flask_example_builds_its_app() -> None:
    with load("flask_app") as module:
        app = module.app
        assert isinstance(app, flask.Flask)
        client = app.test_client()
        page = client.get("/auth/login")
        assert page.status_code == 200
        assert "Войти через Госуслуги" in page.get_data(as_text=True)
        guarded = client.get("/grades")
        assert guarded.status_code == 302
        assert guarded.headers["Location"] == "/auth/login?next=%2Fgrades"


@pytest.mark.usefixtures("environment")
def test_the_fastapi_example_builds_its_app() -> None:
    from starlette.testclient import TestClient  # noqa: PLC0415

    with load("fastapi_app") as module:
        client = TestClient(
            module.app,
            base_url="https://portal.example",
            follow_redirects=False,
            client=("127.0.0.1", 50000),  # the auth pages need a real client address
        )
        assert client.get("/auth/login").status_code == 200
        guarded = client.get("/grades")
        assert guarded.status_code == 302
        assert guarded.headers["location"] == "/auth/login?next=%2Fgrades"


# -- the Django example, run as a project by Django's own server ----------------------------------


def _cookies(answer: httpx.Response, jar: dict[str, str]) -> None:
    """Keep the cookies ``answer`` sets (its cookies are Secure: httpx would not send them
    back over plain HTTP, as a browser would not)."""
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if value:
            jar[name] = value
        else:
            jar.pop(name, None)


def _get(http: httpx.Client, path: str, jar: dict[str, str], **params: str) -> httpx.Response:
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    answer = http.get(path, params=params or None, headers={"Cookie": cookie} if jar else {})
    _cookies(answer, jar)
    return answer


@pytest.fixture
def django_example(
    environment: None, mock_idp: RunningIdP, tmp_path: Path
) -> Iterator[tuple[str, RunningIdP]]:
    """The example project on a loopback port, its OIDC client registered at the mock IdP
    and the mock's person 101 linked to a local teacher."""
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    redirect = f"{site}/auth/callback/esia"
    client = {"client_id": "portal", "secret": "portal-secret", "redirect_uris": [redirect]}
    mock_idp.idp.add_client({**client, "auth_method": "client_secret_basic"})
    store = open_store(os.environ["BRIDGE_DB"], bytes.fromhex(os.environ["BRIDGE_KEY"]))
    store.import_accounts([TEACHER], ORGS)
    now = datetime.now(UTC)
    event = AuditEvent(AuditAction.LINK, now, "admin", issuer=mock_idp.idp.issuer, subject=SUBJECT)
    link = Link(mock_idp.idp.issuer, SUBJECT, TEACHER.account_id, LinkMethod.ADMIN, now, "admin")
    store.create_link(link, event)
    store.close()
    env = {**os.environ, "SITE": site, "DJANGO_SETTINGS_MODULE": "django_app.settings"}
    env["DJANGO_SECRET_KEY"] = "example-secret"
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[0].decode()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert time.monotonic() < deadline, "the Django example did not start"
            time.sleep(0.1)
        yield site, mock_idp
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def test_the_django_example_signs_in_over_a_real_server(
    django_example: tuple[str, RunningIdP],
) -> None:
    site, mock = django_example
    jar: dict[str, str] = {}
    with httpx.Client(base_url=site, timeout=20, follow_redirects=False) as http:
        guarded = _get(http, "/grades", jar)
        assert guarded.status_code == 302
        assert guarded.headers["location"] == "/auth/login?next=%2Fgrades"
        page = _get(http, guarded.headers["location"], jar)  # remembers where to go back
        assert page.status_code == 200
        assert "Войти через Госуслуги" in page.text
        to_idp = _get(http, "/auth/login/esia", jar)
        assert to_idp.status_code == 302, to_idp.text
        query = dict(parse_qsl(urlsplit(to_idp.headers["location"]).query))
        code = mock.idp.authorization_code(
            "portal",
            int(SUBJECT),
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
            scopes=tuple(query["scope"].split()),
        )
        params = {"code": code, "state": query["state"], "iss": mock.idp.issuer}
        back = _get(http, "/auth/callback/esia", jar, **params)
        assert back.status_code == 302, back.text
        assert back.headers["location"] == "/grades"
        grades = _get(http, "/grades", jar)
        assert grades.status_code == 200, grades.text
        assert grades.text.startswith(f"{TEACHER.account_id}, form token ")


# -- docs/integration.md shows the examples as they are ---------------------------------------

DOCS = Path(__file__).parents[2] / "docs" / "integration.md"
HOST_FILES = {
    "flask": ["flask_app.py"],
    "fastapi": ["fastapi_app.py"],
    "django": ["django_app/bridge.py", "django_app/settings.py", "django_app/urls.py"],
}


def _shown(name: str) -> str:
    """An example's code as the host writes it: up to its ``__main__`` block."""
    text = (EXAMPLES / name).read_text()
    return text.split('\n\nif __name__ == "__main__":', 1)[0].rstrip() + "\n"


def host_lines(text: str) -> int:
    """Lines of host code: neither blank, nor a comment, nor an import."""
    lines = (line.strip() for line in text.splitlines())
    return sum(1 for line in lines if line and not line.startswith(("#", "import ", "from ")))


@pytest.mark.parametrize("framework", HOST_FILES)
def test_the_docs_show_each_example_in_under_30_lines(framework: str) -> None:
    docs = DOCS.read_text()
    shown = [_shown(name) for name in HOST_FILES[framework]]
    for name, text in zip(HOST_FILES[framework], shown, strict=True):
        assert f"(../examples/integration/{name})" in docs
        assert f"```python\n{text}```" in docs, f"docs/integration.md does not show {name} as it is"
    assert sum(host_lines(text) for text in shown) < 30
