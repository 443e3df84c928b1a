"""The ``openssl`` command with the GOST engine, for interoperability tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

SKIP_REASON = "openssl with the gost engine (Debian libengine-gost-openssl) is not available"


@functools.cache
def openssl_gost() -> str | None:
    """The ``openssl`` binary when its gost engine loads, else None."""
    binary = shutil.which("openssl")
    if binary is None:
        return None
    done = subprocess.run([binary, "engine", "gost"], capture_output=True, check=False)
    return binary if done.returncode == 0 else None


def openssl_gost_or_skip() -> str:
    """The ``openssl`` binary with the gost engine; skips the test without it."""
    binary = openssl_gost()
    if binary is None:
        pytest.skip(SKIP_REASON)
    return binary


def run_openssl(binary: str, *args: str | Path, data: bytes | None = None) -> bytes:
    """Run ``openssl`` with ``args`` (and ``data`` on stdin); its stdout, asserting success."""
    done = subprocess.run([binary, *map(str, args)], input=data, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout
