"""The demo launcher as `make demo` runs it: it starts, prints the addresses and the people
table, serves the portal, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from school_portal.seed import open_region

from helpers.processes import wait_for
from mock_idp.server import free_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "examples" / "school_portal" / "run.py"


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
        home = wait_for(f"http://127.0.0.1:{port}/", process, deadline)
        assert home.status_code == 302
        assert home.headers["location"].startswith("/auth/login")
        idp = wait_for(
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


SPOOFED = {"X-Forwarded-For": "203.0.113.7"}


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found is not None, f"no field {name!r} in:\n{page}"
    return html.unescape(found.group(1))


def _code_for(lines: list[str], phone: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        for line in reversed(lines):
            found = re.search(r"\b(\d{6})\b", line)
            if phone in line and found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code for {phone} in:\n" + "\n".join(lines))


def test_the_launched_portal_ignores_a_spoofed_forwarded_for(tmp_path: Path) -> None:
    """uvicorn as the launcher runs it: X-Forwarded-For from the (untrusted) peer changes
    nothing, so the session is bound to the real address, 127.0.0.1."""
    port, idp_port = free_port(), free_port()
    command = [sys.executable, str(LAUNCHER), "--db", str(tmp_path / "demo.db")]
    command += ["--port", str(port), "--idp-port", str(idp_port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        wait_for(base + "/", process, deadline)
        with httpx.Client(base_url=base, timeout=10, headers=SPOOFED) as browser:
            page = browser.get("/auth/login")
            form = {"step_id": _field(page.text, "step_id"), "org": "lyc2", "login": "popov"}
            answer = browser.post("/auth/local", data={**form, "password": "Shkola-2024"})
            if answer.status_code == 200 and 'name="code"' in answer.text:
                code = _code_for(lines, "+7 900 000-00-06", deadline)
                step = _field(answer.text, "step_id")
                answer = browser.post("/auth/second-factor", data={"step_id": step, "code": code})
            assert answer.status_code == 303, answer.text
            assert browser.cookies.get("sso_session")
            # from the real address, without the header: the same client as at login
            plain = browser.get("/diary", headers={"X-Forwarded-For": ""})
            assert plain.status_code == 200, plain.text
            other = browser.get("/diary", headers={"X-Forwarded-For": "198.51.100.9"})
            assert other.status_code == 200, other.text
        _check_the_printed_outbox_command(lines, idp_port)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(5)
    assert not any("session.ip_changed" in line for line in lines)


def _check_the_printed_outbox_command(lines: list[str], idp_port: int) -> None:
    """The outbox command the launcher prints works as printed; without its header the
    outbox is closed."""
    printed = next(line for line in lines if line.startswith("SMS outbox:"))
    found = re.search(r"curl -H '([^:]+): ([^']+)' (\S+)", printed)
    assert found is not None, printed
    header, token, url = found.groups()
    assert url == f"http://127.0.0.1:{idp_port}/outbox"
    assert httpx.get(url, headers={header: token}, timeout=10).status_code == 200
    assert httpx.get(url, timeout=10).status_code == 401


def test_a_taken_port_is_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(LAUNCHER), "--db", str(tmp_path / "demo.db"), "--port", str(port),
             "--idp-port", str(free_port())],
            capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "taken" in lines[0], done.stderr
    assert not (tmp_path / "demo.db").exists()  # nothing seeded


def test_seed_only_seeds_the_demo_database_and_stops(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    command = [sys.executable, str(LAUNCHER), "--db", str(db), "--seed-only"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"Seeded {db}." in done.stdout
    assert db.exists() and Path(f"{db}.key").exists()
    store, _ = open_region(db)
    try:
        assert store.links_for_subject("http://127.0.0.1:8100/", "1000000109")
    finally:
        store.close()


def test_a_database_url_without_its_key_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"  # a URL: the demo's key is not written
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
    command = [sys.executable, str(LAUNCHER), "--db", url, "--seed-only"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"demo: config.key_missing: {tmp_path / 'other.db'}.key: No such file or directory"
    ]
