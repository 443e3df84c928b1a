"""pytest plugin: a ``mock_idp`` fixture serving the mock IdP on a free loopback port.

The server runs once per test session; every test gets it reset (configured people and
clients, no faults, empty outbox). Point it at your own people and clients with the ini
option ``mock_idp_config`` (a YAML or JSON file); the default is the bundled sample.

``/admin/*`` and ``/outbox`` need the server's admin token: ``mock_idp.admin_headers``
(or the ``mock_idp_admin_headers`` fixture) holds the header to send.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mock_idp.server import RunningIdP


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mock_idp_config", "people and clients for the mock_idp fixture", default="")


@pytest.fixture(scope="session")
def mock_idp_server(request: pytest.FixtureRequest) -> Iterator[RunningIdP]:
    """The session's running mock IdP (not reset between tests)."""
    from mock_idp.cli import SAMPLE_CONFIG  # noqa: PLC0415 - import only when used
    from mock_idp.server import RunningIdP  # noqa: PLC0415

    configured = str(request.config.getini("mock_idp_config"))
    config = Path(request.config.rootpath, configured) if configured else SAMPLE_CONFIG
    with RunningIdP(config) as running:
        yield running


@pytest.fixture
def mock_idp(mock_idp_server: RunningIdP) -> RunningIdP:
    """The running mock IdP, reset for this test: ``.base_url``, and ``.idp`` to drive it."""
    mock_idp_server.idp.reset()
    return mock_idp_server


@pytest.fixture
def mock_idp_admin_headers(mock_idp_server: RunningIdP) -> dict[str, str]:
    """The header that admits a request to the mock IdP's ``/admin/*`` and ``/outbox``."""
    return mock_idp_server.admin_headers
