"""``make dist`` builds a wheel and an sdist that install into a new venv and work: the two
commands answer ``--help`` and the README's command-line and library examples run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers.shell_blocks import ROOT, commands

pytestmark = pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs the project's .venv"
)


def _run(args: list[str], cwd: Path, timeout: int = 300) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    make = shutil.which("make") or "/usr/bin/make"
    _run([make, "--no-print-directory", "dist", f"DIST_DIR={out}"], ROOT)
    return out


def test_the_sdist_holds_the_sources_and_the_licence(dist: Path) -> None:
    (sdist,) = dist.glob("sso_bridge-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "LICENSE", "README.md", "src/sso_bridge/py.typed"):
        assert needed in names
    assert not any(name.startswith((".venv/", "build/", "dist/")) for name in names)


def test_the_wheel_installs_into_a_new_venv_and_works(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("sso_bridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "sso_bridge/py.typed" in names and "mock_idp/py.typed" in names
    assert any(n.startswith("sso_bridge/web/templates/") for n in names)
    for language in ("ru", "en"):  # the pages' message catalogues
        assert f"sso_bridge/web/locale/{language}/LC_MESSAGES/sso_bridge.po" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    _run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], tmp_path, timeout=600)
    assert "Usage: sso-bridge" in _run([str(venv / "bin" / "sso-bridge"), "--help"], tmp_path)
    assert "Usage: mock-idp" in _run([str(venv / "bin" / "mock-idp"), "--help"], tmp_path)

    # the README's command line, then its library snippet, with the installed package
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    readme = [c for c in commands("README.md") if c.make_target is None]
    script = "\n".join(
        ["set -euo pipefail", f". {venv}/bin/activate"]
        + [c.text for c in readme if not c.text.startswith(". .venv/")]
    )
    _run([shutil.which("bash") or "/bin/bash", "-c", script], tmp_path)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert snippet is not None
    (tmp_path / "snippet.py").write_text(snippet.group(1), encoding="utf-8")
    _run([str(venv / "bin" / "python"), "snippet.py"], tmp_path)
