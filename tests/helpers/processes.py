"""Running the project's commands as a person would, from tests: a command to its end,
and a server until it answers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

__all__ = ["run", "wait_for"]


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``args`` run to its end (text output captured, the exit status not checked)."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(url: str, process: subprocess.Popen[str], deadline: float) -> httpx.Response:
    """The first answer at ``url`` while ``process`` runs, before ``deadline`` (monotonic)."""
    while True:
        assert process.poll() is None, "the server exited early"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answered at {url}"
            time.sleep(0.2)
