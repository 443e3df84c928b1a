"""The :class:`~sso_bridge.events.store.EventStore` in SQL: ``event_sinks`` (each sink's
cursor, lease and retry state) and ``event_dead_letters``.

The tables have their own metadata and are created on first use (revision 0006 makes
them too). A lease is taken by one conditional ``UPDATE`` (free, expired or already
ours), so two instances never both hold it; every save is fenced by the same condition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from sso_bridge.events.store import DeadLetter, SinkState, without_personal
from sso_bridge.store.guard_methods import Guarded
from sso_bridge.store.sqltables import OwnTables

__all__ = ["SqlEventStore", "dead_letters_table", "metadata", "sinks_table"]

metadata = sa.MetaData()

_TIME = sa.DateTime(timezone=True)

sinks_table = sa.Table(
    "event_sinks",
    metadata,
    sa.Column("sink", sa.String(64), primary_key=True),
    # the id of the last audit record delivered (or dead-lettered)
    sa.Column("cursor", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_expires_at", _TIME),
    sa.Column("failing_id", sa.BigInteger),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_failed_at", _TIME),
    sa.Column("next_try_at", _TIME),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(200)),
)

dead_letters_table = sa.Table(
    "event_dead_letters",
    metadata,
    sa.Column("letter_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("sink", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    # the JSON sent: only the personal fields the sink receives
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_status", sa.Integer),
    sa.Column("created_at", _TIME, nullable=False),
    # set only when the body may hold personal values, for erasure
    sa.Column("account_id", sa.String(128)),
    sa.Column("issuer", sa.String(512)),
    sa.Column("subject", sa.String(512)),
    sa.Column("retry", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_event_dead_letters_sink", "sink", "letter_id"),
    sa.Index("ix_event_dead_letters_account", "account_id"),
    sa.Index("ix_event_dead_letters_subject", "issuer", "subject"),
)

_ADVISORY_LOCK = 7261536  # serialises CREATE TABLE by several processes on PostgreSQL
_STATE_FIELDS = (
    "cursor",
    "failing_id",
    "attempts",
    "first_failed_at",
    "next_try_at",
    "last_status",
    "last_error",
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _state(row: RowMapping) -> SinkState:
    return SinkState(
        sink=row["sink"],
        cursor=int(row["cursor"]),
        lease_owner=row["lease_owner"],
        lease_expires_at=_utc(row["lease_expires_at"]),
        failing_id=row["failing_id"],
        attempts=int(row["attempts"]),
        first_failed_at=_utc(row["first_failed_at"]),
        next_try_at=_utc(row["next_try_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


def _letter(row: RowMapping) -> DeadLetter:
    return DeadLetter(
        sink=row["sink"],
        event_id=row["event_id"],
        kind=row["kind"],
        body=row["body"],
        reason=row["reason"],
        attempts=int(row["attempts"]),
        created_at=_utc(row["created_at"]) or datetime.now(UTC),
        last_status=row["last_status"],
        account_id=row["account_id"],
        issuer=row["issuer"],
        subject=row["subject"],
        retry=bool(row["retry"]),
        letter_id=int(row["letter_id"]),
    )


class SqlEventStore(Guarded):
    """Sink cursors, leases and dead letters in ``engine``'s database. Every public
    method is guarded: database faults are ``store.unavailable``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._tables = OwnTables(engine, metadata, _ADVISORY_LOCK)

    def sink_state(self, sink: str) -> SinkState | None:
        query = sa.select(sinks_table).where(sinks_table.c.sink == sink)
        with self._tables.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _state(row)

    def claim(
        self, sink: str, owner: str, now: datetime, lease: timedelta, start_cursor: int
    ) -> SinkState | None:
        c = sinks_table.c
        now = now.astimezone(UTC)
        insert: Any = pg.insert if self._dialect == "postgresql" else sqlite.insert
        with self._tables.write() as conn:
            conn.execute(
                insert(sinks_table)
                .values(sink=sink, cursor=start_cursor, attempts=0)
                .on_conflict_do_nothing(index_elements=["sink"])
            )
            free = sa.or_(
                c.lease_owner.is_(None), c.lease_owner == owner, c.lease_expires_at <= now
            )
            taken = conn.execute(
                sinks_table.update()
                .where(c.sink == sink, free)
                .values(lease_owner=owner, lease_expires_at=now + lease)
            ).rowcount
            if not taken:
                return None
            row = conn.execute(sa.select(sinks_table).where(c.sink == sink)).mappings().one()
            return _state(row)

    def save(self, state: SinkState, owner: str, now: datetime, lease: timedelta) -> bool:
        c = sinks_table.c
        values = {name: getattr(state, name) for name in _STATE_FIELDS}
        with self._tables.write() as conn:
            changed = conn.execute(
                sinks_table.update()
                .where(c.sink == state.sink, c.lease_owner == owner)
                .values(**values, lease_expires_at=now.astimezone(UTC) + lease)
            ).rowcount
        return bool(changed)

    def release(self, sink: str, owner: str) -> None:
        c = sinks_table.c
        with self._tables.write() as conn:
            conn.execute(
                sinks_table.update()
                .where(c.sink == sink, c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def add_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        values = _letter_values(letter)
        with self._tables.write() as conn:
            result = conn.execute(dead_letters_table.insert().values(**values))
            letter_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return DeadLetter(**{**_letter_fields(letter), "letter_id": int(letter_id or 0)})

    def dead_letters(
        self,
        *,
        sink: str | None = None,
        retry_only: bool = False,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        c = dead_letters_table.c
        query = sa.select(dead_letters_table).where(c.letter_id > after_id)
        if sink is not None:
            query = query.where(c.sink == sink)
        if retry_only:
            query = query.where(c.retry.is_(True))
        query = query.order_by(c.letter_id).limit(max(limit, 0))
        with self._tables.read() as conn:
            return [_letter(row) for row in conn.execute(query).mappings()]

    def mark_retry(self, letter_ids: Sequence[int]) -> int:
        c = dead_letters_table.c
        with self._tables.write() as conn:
            return int(
                conn.execute(
                    dead_letters_table.update()
                    .where(c.letter_id.in_(list(letter_ids)))
                    .values(retry=True)
                ).rowcount
            )

    def update_dead_letter(self, letter: DeadLetter) -> None:
        c = dead_letters_table.c
        with self._tables.write() as conn:
            conn.execute(
                dead_letters_table.update()
                .where(c.letter_id == letter.letter_id)
                .values(
                    attempts=letter.attempts,
                    last_status=letter.last_status,
                    reason=letter.reason,
                    retry=letter.retry,
                )
            )

    def drop_dead_letters(self, letter_ids: Sequence[int]) -> int:
        c = dead_letters_table.c
        with self._tables.write() as conn:
            return int(
                conn.execute(
                    dead_letters_table.delete().where(c.letter_id.in_(list(letter_ids)))
                ).rowcount
            )

    def erase_account(self, account_id: str) -> int:
        return self._erase(lambda c: c.account_id == account_id)

    def erase_subject(self, issuer: str, subject: str) -> int:
        return self._erase(lambda c: sa.and_(c.issuer == issuer, c.subject == subject))

    def _erase(self, where: Callable[[Any], Any]) -> int:
        c = dead_letters_table.c
        with self._tables.write() as conn:
            rows = conn.execute(sa.select(c.letter_id, c.body).where(where(c))).all()
            for letter_id, body in rows:
                _strip(conn, int(letter_id), str(body))
        return len(rows)


def _strip(conn: Connection, letter_id: int, body: str) -> None:
    c = dead_letters_table.c
    conn.execute(
        dead_letters_table.update()
        .where(c.letter_id == letter_id)
        .values(body=without_personal(body), account_id=None, subject=None)
    )


def _letter_fields(letter: DeadLetter) -> dict[str, Any]:
    return {
        "sink": letter.sink,
        "event_id": letter.event_id,
        "kind": letter.kind,
        "body": letter.body,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "created_at": letter.created_at,
        "last_status": letter.last_status,
        "account_id": letter.account_id,
        "issuer": letter.issuer,
        "subject": letter.subject,
        "retry": letter.retry,
    }


def _letter_values(letter: DeadLetter) -> dict[str, Any]:
    values = _letter_fields(letter)
    values["created_at"] = letter.created_at.astimezone(UTC)
    values["kind"] = letter.kind[:64]
    values["event_id"] = letter.event_id[:64]
    return values
