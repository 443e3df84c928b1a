from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.accounts import KEY, ORGS
from helpers.clock import NOW  # noqa: F401 - fixed here, before pytest-xdist starts its workers
from sso_bridge.esia import gost
from sso_bridge.model import LocalAccount
from sso_bridge.store.sql import SqlStore, open_store

POSTGRES_ENV = "SSO_BRIDGE_TEST_POSTGRES"

ALONE = (
    "fuzz/",
    "ops/",
    "esia/test_limits.py",
    "esia/test_certificates.py",
    "mfa/test_enumeration_timing.py",
    "mock_idp/test_protections.py",
    "oidc/test_key_sizes.py",
    "saml/test_cost.py",
    "saml/test_external_references.py",
    "test_jsonparse.py",
)
"""Tests that time the CPU an input costs, compare two timings, or how long a request waits
under a fault: marked ``alone``, so that ``make test`` runs them by themselves, before the
rest runs on two workers (a second worker beside them would be counted in their figures)."""

_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.resolve().relative_to(_TESTS).as_posix()
        if where.startswith(ALONE):
            item.add_marker(pytest.mark.alone)


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every input Streebog-256 hashes while the test runs (for tests that
    show a size is refused before anything is hashed, or that a token is hashed once)."""
    lengths: list[int] = []
    real = gost._fast_streebog256

    def counting(data: bytes) -> bytes:
        lengths.append(len(data))
        return real(data)

    monkeypatch.setattr(gost, "_fast_streebog256", counting)
    return lengths


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bridge.db'}"


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_url()
    if base is None:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    schema = "t_" + secrets.token_hex(6)
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every contract test runs against each backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url, KEY)
    s.import_accounts([], ORGS)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    s = open_store(sqlite_url, KEY)
    s.import_accounts([], ORGS)
    yield s
    s.close()


@pytest.fixture
def add_accounts(store: SqlStore) -> Callable[..., None]:
    def add(*accounts: LocalAccount) -> None:
        store.import_accounts(list(accounts))

    return add
