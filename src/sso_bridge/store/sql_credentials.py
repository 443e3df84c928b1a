"""A :class:`~sso_bridge.mfa.credentials.CredentialStore` in SQL (SQLite or PostgreSQL).

Two tables, ``credentials`` and ``recovery_codes``, with their own metadata, created on
first use (a database from before recovery codes gets the second table then). TOTP secrets are
sealed with AES-256-GCM under a key derived from ``secret_key`` by HKDF-SHA256, bound to
their account id; password hashes are argon2id strings. The failure counter and the last
used TOTP step change only in single ``UPDATE`` statements that test and set in the
database, so that concurrent broker processes cannot both win; a recovery code is spent
by a ``DELETE`` of its row, which only one of them can do.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from sso_bridge.errors import ConfigError, StoreError
from sso_bridge.mfa.credentials import Credentials
from sso_bridge.mfa.otp import check_algorithm, check_digits
from sso_bridge.store.guard_methods import Guarded
from sso_bridge.store.sqltables import OwnTables

__all__ = ["SqlCredentialStore", "credentials_table", "metadata", "recovery_codes_table"]

metadata = sa.MetaData()

_TIME = sa.DateTime(timezone=True)

credentials_table = sa.Table(
    "credentials",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("password_hash", sa.Text),
    sa.Column("password_set_at", _TIME),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_at", _TIME),
    sa.Column("locked_until", _TIME),
    # version byte, 12-byte nonce, AES-GCM ciphertext and tag
    sa.Column("totp_secret", sa.LargeBinary),
    sa.Column("totp_algorithm", sa.String(8), nullable=False, server_default="sha1"),
    sa.Column("totp_digits", sa.SmallInteger, nullable=False, server_default="6"),
    sa.Column("totp_last_step", sa.BigInteger),
    sa.Column("phone", sa.Text),
    sa.Column("email", sa.Text),
)

recovery_codes_table = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("account_id", sa.String(128), nullable=False),
    # salt and SHA-256, as sso_bridge.mfa.recovery makes them; never the code
    sa.Column("code_hash", sa.LargeBinary(64), nullable=False),
    sa.PrimaryKeyConstraint("account_id", "code_hash", name="pk_recovery_codes"),
)

_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12
_ADVISORY_LOCK = 7261533  # serialises CREATE TABLE by several processes on PostgreSQL


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _at(value: datetime) -> datetime:
    """``value`` in UTC; SQLite keeps no offset, so every stored time must be UTC."""
    return value.astimezone(UTC)


class SqlCredentialStore(Guarded):
    """Credentials in the ``credentials`` table of ``engine``'s database.

    Every public method is guarded (:class:`~sso_bridge.store.guard_methods.Guarded`): database
    faults are ``store.unavailable``.

    ``secret_key`` (32 bytes or more) seals the TOTP secrets; keep it outside the
    database, and keep it: secrets sealed under another key cannot be read.
    """

    def __init__(self, engine: Engine, secret_key: bytes) -> None:
        if len(secret_key) < 32:
            raise ConfigError(
                "the credentials secret key needs 32 bytes or more", code="config.invalid"
            )
        self.engine = engine
        self._dialect = engine.dialect.name
        self._aead = AESGCM(
            HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=b"sso_bridge credentials",
                info=b"totp secret sealing, version 1",
            ).derive(secret_key)
        )
        self._tables = OwnTables(engine, metadata, _ADVISORY_LOCK)

    # -- plumbing ---------------------------------------------------------------------------

    def _ensure(self, conn: Connection, account_id: str) -> None:
        insert: Any = pg.insert if self._dialect == "postgresql" else sqlite.insert
        conn.execute(
            insert(credentials_table)
            .values(account_id=account_id)
            .on_conflict_do_nothing(index_elements=["account_id"])
        )

    def _update(self, conn: Connection, account_id: str, **values: Any) -> int:
        result = conn.execute(
            credentials_table.update()
            .where(credentials_table.c.account_id == account_id)
            .values(**values)
        )
        return int(result.rowcount)

    def _seal(self, account_id: str, secret: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _SEAL_VERSION + nonce + self._aead.encrypt(nonce, secret, account_id.encode())

    def _open(self, account_id: str, sealed: bytes) -> bytes:
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            if sealed[:1] != _SEAL_VERSION:
                raise InvalidTag
            return self._aead.decrypt(nonce, body, account_id.encode())
        except InvalidTag:
            raise StoreError(
                f"the TOTP secret of {account_id!r} cannot be decrypted with this secret key",
                code="store.credentials_key_mismatch",
            ) from None

    def _credentials(self, row: RowMapping) -> Credentials:
        sealed = row["totp_secret"]
        account_id = row["account_id"]
        return Credentials(
            account_id=account_id,
            password_hash=row["password_hash"],
            password_set_at=_utc(row["password_set_at"]),
            failed_logins=row["failed_logins"],
            locked_at=_utc(row["locked_at"]),
            locked_until=_utc(row["locked_until"]),
            totp_secret=None if sealed is None else self._open(account_id, bytes(sealed)),
            totp_algorithm=row["totp_algorithm"],
            totp_digits=row["totp_digits"],
            totp_last_step=row["totp_last_step"],
            phone=row["phone"],
            email=row["email"],
        )

    # -- the port ---------------------------------------------------------------------------

    def get(self, account_id: str) -> Credentials | None:
        query = sa.select(credentials_table).where(credentials_table.c.account_id == account_id)
        with self._tables.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._credentials(row)

    def set_password(self, account_id: str, password_hash: str, now: datetime) -> None:
        with self._tables.write() as conn:
            self._ensure(conn, account_id)
            self._update(conn, account_id, password_hash=password_hash, password_set_at=_at(now))

    def replace_password_hash(self, account_id: str, old_hash: str, new_hash: str) -> bool:
        c = credentials_table.c
        with self._tables.write() as conn:
            result = conn.execute(
                credentials_table.update()
                .where(c.account_id == account_id, c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )
            return bool(result.rowcount)

    def record_failed_login(
        self, account_id: str, now: datetime, max_failures: int, lockout: timedelta | None
    ) -> Credentials:
        c = credentials_table.c
        now = _at(now)
        until = None if lockout is None else now + lockout
        locks = sa.and_(c.locked_at.is_(None), c.failed_logins + 1 >= max_failures)
        with self._tables.write() as conn:
            self._ensure(conn, account_id)
            # a timed lock that has run out is forgotten, with the failures that made it
            conn.execute(
                credentials_table.update()
                .where(c.account_id == account_id, c.locked_until <= now)
                .values(failed_logins=0, locked_at=None, locked_until=None)
            )
            row = (
                conn.execute(
                    credentials_table.update()
                    .where(c.account_id == account_id)
                    .values(
                        failed_logins=c.failed_logins + 1,
                        locked_at=sa.case((locks, sa.literal(now, _TIME)), else_=c.locked_at),
                        locked_until=sa.case(
                            (locks, sa.literal(until, _TIME)), else_=c.locked_until
                        ),
                    )
                    .returning(*credentials_table.c)
                )
                .mappings()
                .one()
            )
            return self._credentials(row)

    def reset_failed_logins(self, account_id: str, now: datetime) -> None:
        c = credentials_table.c
        in_force = sa.and_(
            c.locked_at.is_not(None), sa.or_(c.locked_until.is_(None), c.locked_until > _at(now))
        )
        with self._tables.write() as conn:
            conn.execute(
                credentials_table.update()
                .where(c.account_id == account_id, sa.not_(in_force))
                .values(failed_logins=0, locked_at=None, locked_until=None)
            )

    def unlock(self, account_id: str) -> None:
        with self._tables.write() as conn:
            self._update(conn, account_id, failed_logins=0, locked_at=None, locked_until=None)

    def set_totp(
        self,
        account_id: str,
        secret: bytes,
        *,
        algorithm: str = "sha1",
        digits: int = 6,
        last_step: int | None = None,
    ) -> None:
        values = {
            "totp_secret": self._seal(account_id, bytes(secret)),
            "totp_algorithm": check_algorithm(algorithm),
            "totp_digits": check_digits(digits),
            "totp_last_step": last_step,
        }
        with self._tables.write() as conn:
            self._ensure(conn, account_id)
            self._update(conn, account_id, **values)

    def remove_totp(self, account_id: str) -> None:
        with self._tables.write() as conn:
            self._update(conn, account_id, totp_secret=None, totp_last_step=None)
            conn.execute(self._recovery_rows(account_id))

    def use_totp_step(self, account_id: str, step: int) -> bool:
        c = credentials_table.c
        with self._tables.write() as conn:
            result = conn.execute(
                credentials_table.update()
                .where(
                    c.account_id == account_id,
                    c.totp_secret.is_not(None),
                    sa.or_(c.totp_last_step.is_(None), c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            return bool(result.rowcount)

    def set_contacts(
        self, account_id: str, phone: str | None = None, email: str | None = None
    ) -> None:
        with self._tables.write() as conn:
            self._ensure(conn, account_id)
            self._update(conn, account_id, phone=phone, email=email)

    def erase(self, account_id: str) -> bool:
        """Delete the account's row and recovery codes in one transaction (an erasure);
        True if there was anything."""
        c = credentials_table.c
        with self._tables.write() as conn:
            codes = conn.execute(self._recovery_rows(account_id)).rowcount
            row = conn.execute(credentials_table.delete().where(c.account_id == account_id))
            return bool(codes or row.rowcount)

    # -- recovery codes -----------------------------------------------------------------------

    @staticmethod
    def _recovery_rows(account_id: str) -> sa.Delete:
        """Delete every recovery code of the account."""
        return recovery_codes_table.delete().where(recovery_codes_table.c.account_id == account_id)

    def set_recovery_codes(self, account_id: str, hashes: Sequence[bytes]) -> None:
        rows = [{"account_id": account_id, "code_hash": bytes(h)} for h in hashes]
        with self._tables.write() as conn:
            conn.execute(self._recovery_rows(account_id))
            if rows:
                conn.execute(recovery_codes_table.insert(), rows)

    def recovery_code_hashes(self, account_id: str) -> tuple[bytes, ...]:
        c = recovery_codes_table.c
        query = sa.select(c.code_hash).where(c.account_id == account_id).order_by(c.code_hash)
        with self._tables.read() as conn:
            return tuple(bytes(value) for value in conn.execute(query).scalars())

    def use_recovery_code(self, account_id: str, stored_hash: bytes) -> int | None:
        c = recovery_codes_table.c
        with self._tables.write() as conn:
            removed = conn.execute(
                recovery_codes_table.delete().where(
                    c.account_id == account_id, c.code_hash == bytes(stored_hash)
                )
            )
            if not removed.rowcount:
                return None
            count = sa.select(sa.func.count()).where(c.account_id == account_id)
            return int(conn.execute(count).scalar_one())
