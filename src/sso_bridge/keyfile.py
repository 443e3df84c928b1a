"""Where the blind-index key comes from when sso_bridge runs as a program.

In order: the ``SSO_BRIDGE_KEY`` environment variable (64 hex digits), a key file given
explicitly, or, for a SQLite database, the file ``<database>.key`` beside it, created
together with a new database. A PostgreSQL database needs one of the first two.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import sqlalchemy as sa

from sso_bridge.errors import ConfigError
from sso_bridge.matching.keys import MIN_KEY_BYTES

KEY_ENV = "SSO_BRIDGE_KEY"


def parse_key(text: str, origin: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"{origin}: the key must be hex digits", code="config.bad_key") from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{origin}: the key must have at least {MIN_KEY_BYTES} bytes "
            f"({2 * MIN_KEY_BYTES} hex digits)",
            code="config.bad_key",
        )
    return key


def read_key_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_text(encoding="ascii"), str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}", code="config.key_missing") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the key must be hex digits", code="config.bad_key") from None


def create_key_file(path: Path) -> bytes:
    """Write a new random key readable by its owner only."""
    key = secrets.token_bytes(MIN_KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


def sqlite_path(db_url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    try:
        url = sa.engine.make_url(db_url)
    except sa.exc.ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def key_path(db_url: str) -> Path | None:
    """The key file beside a SQLite database file, or None for other databases."""
    db_path = sqlite_path(db_url)
    return None if db_path is None else db_path.with_name(db_path.name + ".key")


def resolve_key(db_url: str, key_file: Path | None = None, *, create: bool = True) -> bytes:
    """The blind-index key for ``db_url`` by the rules of this module's docstring.

    With ``create=False`` a missing key file beside a SQLite database is
    ``config.key_missing`` instead of a new key.
    """
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return parse_key(from_env, KEY_ENV)
    if key_file is not None:
        return read_key_file(key_file)
    db_path = sqlite_path(db_url)
    if db_path is None:
        if db_url.startswith("sqlite"):
            return secrets.token_bytes(MIN_KEY_BYTES)  # an in-memory database lives alone
        raise ConfigError(
            f"set {KEY_ENV} or --key-file: a server database needs its blind-index key",
            code="config.key_missing",
        )
    path = db_path.with_name(db_path.name + ".key")
    if path.exists():
        return read_key_file(path)
    if db_path.exists() and db_path.stat().st_size > 0:
        raise ConfigError(
            f"{path} is missing: the key this database was built with is needed",
            code="config.key_missing",
        )
    if not create:
        raise ConfigError(f"{path} is missing", code="config.key_missing")
    return create_key_file(path)
