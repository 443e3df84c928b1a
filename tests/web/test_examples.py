"""The integration examples of docs/integration.md build their applications."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import flask
import pytest

from mock_idp.server import RunningIdP

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
