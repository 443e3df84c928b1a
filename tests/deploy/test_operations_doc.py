"""The shell blocks of docs/operations.md work as written, in order, in one shell: the
secrets file made and read, the demo region seeded into a PostgreSQL database of its own,
Redis's persistence read, a dump made and listed, the audit chain verified, the schema
upgraded (a no-op) and its revision shown. The blocks that need Docker, systemd or a
running deployment are plain blocks, exercised by tests/deploy/test_configs.py and
test_multi_instance.py."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from school_portal.seed import ACCOUNTS, PEOPLE

from helpers.processes import run
from helpers.shell_blocks import ROOT, commands

DOCUMENT = "docs/operations.md"
LINKED = ("examples", ".venv", "src", "pyproject.toml")


@pytest.fixture
def database() -> Iterator[str]:
    """A new PostgreSQL database on the test server (pg_dump reads all of it), dropped after."""
    base = os.environ.get("SSO_BRIDGE_TEST_POSTGRES")
    if not base:
        pytest.skip("SSO_BRIDGE_TEST_POSTGRES is not set: no PostgreSQL server to test against")
    name = "ops_" + secrets.token_hex(6)
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def test_the_shell_blocks_of_operations_md_work_as_written(database: str, tmp_path: Path) -> None:
    redis_url = os.environ.get("SSO_BRIDGE_TEST_REDIS")
    if not redis_url:
        pytest.skip("SSO_BRIDGE_TEST_REDIS is not set: no Redis server to test against")
    for tool in ("pg_dump", "pg_restore", "redis-cli"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian packages postgresql-client, redis-tools)")
    found = commands(DOCUMENT)
    assert len(found) >= 8, found
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "deploy").mkdir()  # a copy: the commands write portal.env here
    shutil.copy(ROOT / "deploy" / "make-env.sh", tmp_path / "deploy")
    lines = ["set -euo pipefail"]
    for command in found:
        lines += [f"echo '>>> {command.document}:{command.line}'", command.text]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSO_BRIDGE_", "PORTAL_"))}
    env |= {
        "PORTAL_DB": database,
        "PORTAL_IDP_URL": "http://idp.school.test:8100",
        "SSO_BRIDGE_EPHEMERAL": redis_url,
    }
    done = run(["bash", "-c", "\n".join(lines) + "\n"], cwd=tmp_path, env=env, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"a command of {DOCUMENT} failed:\n{output[-4000:]}"
    assert "Traceback" not in output
    seeded = sum(len(p.linked) for p in PEOPLE if p.oid is not None)
    assert f"seeded the demo region ({len(ACCOUNTS)} accounts, {seeded} new links)" in output
    env_file = tmp_path / "deploy" / "portal.env"
    assert env_file.stat().st_mode & 0o077 == 0  # the secrets are the owner's alone
    assert (tmp_path / "portal.dump").stat().st_size > 0
