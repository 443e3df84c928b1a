"""Every command in the shell blocks of README.md, docs/quickstart.md and docs/cli.md works
as written: the blocks of each document run in order, in one shell, in a directory laid
out like the repository after ``make demo`` (the venv, the examples, the demo database and
its key), with the venv not on the PATH unless a block puts it there. The ``make`` targets
they show are run here or by their own tests (``shell_blocks.MAKE_TARGETS``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.processes import run, wait_for
from helpers.seeded import seeded_region
from helpers.shell_blocks import DOCUMENTS, MAKE_TARGETS, ROOT, Command, commands
from mock_idp.server import free_port

VENV = ROOT / ".venv"
BASH = shutil.which("bash") or "/bin/bash"
MAKE = shutil.which("make") or "/usr/bin/make"
LINKED = ("examples", ".venv", "src", "Makefile", "pyproject.toml", "README.md", "LICENSE")

pytestmark = pytest.mark.skipif(
    not (VENV / "bin" / "sso-bridge").exists(), reason="needs the project's .venv (make venv)"
)


def _plain_environment() -> dict[str, str]:
    """The environment of a new terminal: no venv active, none of ours on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
    env.pop("VIRTUAL_ENV", None)
    paths = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in paths if p and not p.startswith(str(VENV)))
    return env


def _checkout_after_demo(where: Path) -> Path:
    """A directory laid out like the repository after ``make demo`` seeded its database."""
    for name in LINKED:
        (where / name).symlink_to(ROOT / name)
    seeded_region(where / "build" / "demo.db")
    return where


def _script(found: list[Command]) -> str:
    lines = ["set -euo pipefail"]
    for command in found:
        target = command.make_target
        if target is not None and target != "venv":
            continue  # covered by the tests below and by MAKE_TARGETS' own tests
        lines.append(f"echo '>>> {command.document}:{command.line}'")
        lines.append(command.text)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_shell_blocks_work_as_written(document: str, tmp_path: Path) -> None:
    found = commands(document)
    assert found, f"{document} has no shell block"
    where = _checkout_after_demo(tmp_path)
    done = run(
        [BASH, "-c", _script(found)],
        cwd=where,
        env=_plain_environment(),
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"a command of {document} failed:\n{output[-4000:]}"
    assert "Traceback" not in output


def test_every_make_target_shown_is_known_and_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    for document in DOCUMENTS:
        for command in commands(document):
            target = command.make_target
            if target is None:
                continue
            where = f"{document}:{command.line}"
            assert target in MAKE_TARGETS, f"{where}: no test covers `{command.text}`"
            assert target in defined, f"{where}: the Makefile has no target {target!r}"


def test_the_commands_are_not_found_without_the_venv(tmp_path: Path) -> None:
    # the guard of the test above: a document that forgets to activate the venv fails
    done = run(
        [BASH, "-c", "sso-bridge --help"],
        cwd=tmp_path,
        env=_plain_environment(),
        timeout=60,
    )
    assert done.returncode == 127, done.stdout + done.stderr


def test_make_demo_cli_keeps_its_own_database(tmp_path: Path) -> None:
    demo_db = tmp_path / "demo.db"
    seeded_region(demo_db)
    cli_db = tmp_path / "demo-cli.db"
    done = run(
        [MAKE, "--no-print-directory", "demo-cli", f"DEMO_CLI_DB={cli_db}"],
        cwd=ROOT,
        env=_plain_environment(),
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "$ sso-bridge audit tail" in output  # the walk-through ran to its end
    assert cli_db.exists() and Path(f"{cli_db}.key").exists()
    # the portal's database and its key are untouched, and the command line reads both
    for db in (demo_db, cli_db):
        tail = run(
            [str(VENV / "bin" / "sso-bridge"), "audit", "verify"],
            env={**_plain_environment(), "SSO_BRIDGE_DB": f"sqlite:///{db}"},
            timeout=60,
        )
        assert tail.returncode == 0, tail.stdout + tail.stderr


def test_make_demo_serves_the_portal(tmp_path: Path) -> None:
    port, idp_port = free_port(), free_port()
    db = tmp_path / "demo.db"
    process = subprocess.Popen(
        [
            MAKE,
            "--no-print-directory",
            "demo",
            f"DEMO_DB={db}",
            f"DEMO_ARGS=--port {port} --idp-port {idp_port}",
        ],
        cwd=ROOT,
        env={**_plain_environment(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        home = wait_for(f"http://127.0.0.1:{port}/", process, time.monotonic() + 120)
        assert home.status_code == 302
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "Traceback" not in output
    # what the demo printed for the audit trail works as printed
    shown = re.search(r"Audit trail:\s+(.+)", output)
    assert shown is not None, output
    done = run(
        [BASH, "-c", shown.group(1)],
        cwd=ROOT,
        env=_plain_environment(),
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
