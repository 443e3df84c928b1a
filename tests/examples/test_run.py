"""The demo launcher as `make demo` runs it: it starts, prints the addresses and the people
table, serves the portal, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mock_idp.server import free_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "examples" / "school_portal" / "run.py"


def _wait_for(url: str, process: subprocess.Popen[str], deadline: float) -> httpx.Response:
    while True:
        assert process.poll() is None, "the launcher exited early"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answered at {url}"
            time.sleep(0.2)


def test_the_launcher_serves_the_demo_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, idp_port = free_port(), free_port()
    command = [
        sys.executable,
        str(LAUNCHER),
        "--db",
        str(tmp_path / "demo.db"),
        "--port",
        str(port),
        "--idp-port",
        str(idp_port),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 20
        home = _wait_for(f"http://127.0.0.1:{port}/", process, deadline)
        assert home.status_code == 302
        assert home.headers["location"].startswith("/auth/login")
        idp = _wait_for(
            f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", process, deadline
        )
        assert idp.status_code == 200
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    assert f"http://127.0.0.1:{idp_port}/" in output
    for line in ("teacher_parent", "Смирнова Мария Петровна", "+7 (900) 000-01-01", "Shkola-2024"):
        assert line in output
    assert "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in output
    assert "Traceback" not in output
    assert (tmp_path / "demo.db").exists()
