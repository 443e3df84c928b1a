"""Verifying the chains of a large PostgreSQL trail in several processes.

Each chain is read in one streamed query (a server-side cursor, in ``event_id`` order)
by a worker process with its own connection, and checked there; only the reports come
back. Processes, not threads: hashing and decoding rows is Python work.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator, Sequence
from concurrent.futures import ProcessPoolExecutor

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sso_bridge.audit.chain import ChainReport, verify_chain
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.trail import ChainStart
from sso_bridge.model import AuditEvent
from sso_bridge.store.sql_audit_rows import event_of_row
from sso_bridge.store.sql_schema import audit

__all__ = ["verify_in_processes"]

_STREAM_ROWS = 5000
_engines: dict[str, Engine] = {}


def verify_in_processes(
    url: str,
    table: str,
    plan: Sequence[ChainStart],
    workers: int,
    key: CommitmentKey | None = None,
) -> list[ChainReport]:
    """:func:`~sso_bridge.audit.chain.verify_chain` of every chain of ``plan``, the
    chains spread over ``workers`` processes; reports in the order of ``plan``. ``key``
    (the commitment key) goes to each process through its pipe."""
    context = multiprocessing.get_context("spawn")  # no inherited connections
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        jobs = [pool.submit(_verify_one, url, table, start, key) for start in plan]
        return [job.result() for job in jobs]


def _verify_one(url: str, table: str, start: ChainStart, key: CommitmentKey | None) -> ChainReport:
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = sa.create_engine(url)
    with engine.connect() as conn:
        rows = _stream(conn, table, start)
        try:
            return verify_chain(
                rows,
                chain=start.chain,
                previous=start.previous,
                previous_id=start.after_id or None,
                marks=start.marks,
                key=key,
            )
        finally:
            rows.close()


def _stream(conn: Connection, table: str, start: ChainStart) -> Generator[AuditEvent, None, None]:
    t = audit if table == audit.name else audit.to_metadata(sa.MetaData(), name=table)
    raw_at = sa.type_coerce(t.c.at, sa.Text).label("at")
    query = (
        sa.select(*(c for c in t.c if c.name != "at"), raw_at)
        .where(t.c.chain == start.chain, t.c.event_id > start.after_id)
        .order_by(t.c.event_id)
    )
    result = conn.execution_options(yield_per=_STREAM_ROWS).execute(query)
    try:
        for row in result.mappings():
            yield event_of_row(row)
    finally:
        result.close()
