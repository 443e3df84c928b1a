"""Fixtures of the second-factor tests: credential stores on every backend, a fast hasher."""

from __future__ import annotations

from collections.abc import Iterator

import argon2
import pytest

from sso_bridge.mfa.credentials import CredentialStore, InMemoryCredentialStore
from sso_bridge.mfa.passwords import password_hasher
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_credentials import SqlCredentialStore

SECRET_KEY = bytes(range(100, 132))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def credentials(request: pytest.FixtureRequest) -> Iterator[CredentialStore]:
    """The credential store contract runs against each implementation."""
    if request.param == "memory":
        yield InMemoryCredentialStore()
        return
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_schema_url"
    engine = create_engine(str(request.getfixturevalue(fixture)))
    try:
        yield SqlCredentialStore(engine, SECRET_KEY)
    finally:
        engine.dispose()


@pytest.fixture
def fast_hasher() -> argon2.PasswordHasher:
    """Argon2id with the smallest cost, so that tests stay quick."""
    return password_hasher(time_cost=1, memory_cost=64, parallelism=1)
