"""Running the mock IdP: in the foreground (``mock-idp serve``) or in a background thread
on a free loopback port, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn

from mock_idp.app import ADMIN_HEADER, MockIdP, create_app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class RunningIdP:
    """A mock IdP served by uvicorn in a daemon thread; a context manager.

    ``idp`` is the :class:`MockIdP` to drive from the test; ``base_url`` its address;
    ``admin_token`` the token its ``/admin/*`` and ``/outbox`` require (random unless
    given), sent as :attr:`admin_headers`.
    """

    def __init__(
        self,
        config: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        state_dir: Path | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.base_url = f"http://{host}:{self.port}"
        self.idp = MockIdP.from_config(config, self.base_url, state_dir, admin_token=admin_token)
        settings = uvicorn.Config(
            create_app(self.idp),
            host=host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            proxy_headers=False,  # no client may rewrite its address or scheme by header
        )
        self._server = uvicorn.Server(settings)
        self._thread = threading.Thread(target=self._server.run, name="mock-idp", daemon=True)

    @property
    def admin_token(self) -> str:
        """The token ``/admin/*`` and ``/outbox`` require."""
        return self.idp.admin_token

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers that admit a request to ``/admin/*`` and ``/outbox``."""
        return self.idp.admin_headers

    def start(self, timeout: float = 10.0) -> RunningIdP:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the mock IdP did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> RunningIdP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: Path | None,
    host: str,
    port: int,
    state_dir: Path,
    *,
    admin_token: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve in the foreground until interrupted; ``announce`` gets the admin token."""
    idp = MockIdP.from_config(config, f"http://{host}:{port}", state_dir, admin_token=admin_token)
    announce(f"admin token (header {ADMIN_HEADER}, for /admin/* and /outbox): {idp.admin_token}")
    uvicorn.run(create_app(idp), host=host, port=port, log_level="info", proxy_headers=False)
