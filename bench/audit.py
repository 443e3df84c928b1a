"""Benchmark: chained audit appends against plain INSERTs of the same rows, on PostgreSQL.

Writers are processes, each with its own connection, appending a login's two records
(``login`` and ``session_start`` of one account) per transaction, for about ``--budget``
seconds at a time, at 1, 4, 16 and 64 writers. Contenders, on the same server:

* ``plain``: one multi-row ``INSERT`` of the two rows, already built, into a copy of the
  audit table (same columns, identity and indexes): the floor.
* ``chained``: ``SqlAuditLog.record_many`` of the two events, as the broker appends them
  (redaction, ids and hashes, one statement to the chain the connection leased).
* ``single``: the design before several chains, for comparison: one chain, an advisory
  lock, the head read, then the insert (``--skip-single`` leaves it out).

Each round runs every contender at every writer count, the contenders interleaved;
reported per contender: records/s, p50 and p99 latency of one append (transaction), as
min / median / max over the rounds. Ratios are taken round by round. Then a trail of
``--verify-records`` records in 256 chains is written with COPY (not timed) and verified
with ``verify_log`` (timed).

Usage: ``python bench/audit.py [--rounds 3] [--budget 2] [--writers 1,4,16,64] [--skip-single]
[--claimed] [--verify-records 1000000]``; needs ``SSO_BRIDGE_TEST_POSTGRES`` (or ``--db``).
Everything happens in schemas of its own, dropped afterwards.
Last line: ``chain_over_plain_16=... chain_over_plain_64=... verify_records_per_s=...``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import attrs  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from sso_bridge.audit import verify_log  # noqa: E402
from sso_bridge.audit.chain import GENESIS, chain_genesis, chain_hash  # noqa: E402
from sso_bridge.audit.redact import prepare  # noqa: E402
from sso_bridge.matching.keys import BlindIndex  # noqa: E402
from sso_bridge.model import AuditAction, AuditEvent  # noqa: E402
from sso_bridge.store import open_store  # noqa: E402
from sso_bridge.store.sql_audit import CHAINS, SqlAuditLog, SqlAuditTrail  # noqa: E402
from sso_bridge.store.sql_audit_pg import LEASE_INFO  # noqa: E402
from sso_bridge.store.sql_audit_rows import row_values  # noqa: E402
from sso_bridge.store.sql_engine import create_engine  # noqa: E402
from sso_bridge.store.sql_schema import audit  # noqa: E402

KEY = bytes(range(32))
SINGLE_LOCK = 7261599
CONTENDERS = ("plain", "chained", "single")


def login_events(n: int, writer: int) -> list[AuditEvent]:
    at = datetime.now(UTC)
    account = f"acc-{writer}-{n % 5000}"
    common = {"actor": "web", "account_id": account, "ip": "10.1.2.3"}
    ua = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"
    return [
        AuditEvent(
            AuditAction.LOGIN,
            at,
            issuer="https://esia.gosuslugi.ru/",
            subject=str(1_000_000_000 + n),
            user_agent=ua,
            **common,  # type: ignore[arg-type]
        ),
        AuditEvent(AuditAction.SESSION_START, at, **common),  # type: ignore[arg-type]
    ]


class BenchLog(SqlAuditLog):
    """The store's audit log on its own engine (no directory reader: one connection).

    With ``claimed``, its connections take no lease: every append claims a chain for its
    transaction (the path of connections that find no chain free), to compare designs.
    """

    def __init__(self, url: str, claimed: bool = False) -> None:
        super().__init__(create_engine(url), BlindIndex(KEY))
        self._audit = SqlAuditTrail(audit)
        self.root_interval = None
        if claimed:

            @sa.event.listens_for(self.engine, "connect")
            def _no_lease(_dbapi: object, record: Any) -> None:
                record.info[LEASE_INFO] = None


class WriterOps:
    """What one writer process does once per transaction, for each contender."""

    def __init__(self, url: str, writer: int, claimed: bool) -> None:
        self.log = BenchLog(url, claimed)
        self.writer, self.n = writer, 0
        meta = sa.MetaData()
        plain = audit.to_metadata(meta, name="audit_plain")
        single = audit.to_metadata(meta, name="audit_single")
        self.plain_insert, self.single_insert = sa.insert(plain), sa.insert(single)
        last = sa.select(single.c.event_id, single.c.chain_hash)
        self.last = last.order_by(single.c.event_id.desc()).limit(1)
        self.lock = sa.select(sa.func.pg_advisory_xact_lock(SINGLE_LOCK))
        self.writes = self.log.engine.execution_options(write=True)
        self.rows = [row_values(prepare(e)) for e in login_events(0, writer)]
        for row in self.rows:
            row["chain_hash"] = "f" * 64

    def plain(self) -> None:
        with self.writes.begin() as c:
            c.execute(self.plain_insert, self.rows)

    def chained(self) -> None:
        self.log.record_many(login_events(self.n, self.writer))

    def single(self) -> None:
        with self.writes.begin() as c:
            c.execute(self.lock)
            top = c.execute(self.last).first()
            event_id, previous = (0, GENESIS) if top is None else (int(top[0]), top[1])
            batch = []
            for event in login_events(self.n, self.writer):
                event_id += 1
                stored = attrs.evolve(prepare(event), event_id=event_id)
                previous = chain_hash(previous, stored)
                values = row_values(stored)
                values.update(event_id=event_id, chain_hash=previous)
                batch.append(values)
            c.execute(self.single_insert, batch)


def writer_main(url: str, writer: int, claimed: bool, conn: Connection) -> None:
    ops = WriterOps(url, writer, claimed)
    conn.send("ready")
    while (message := conn.recv()) is not None:
        name, start_at, budget = message
        op: Callable[[], None] = getattr(ops, name)
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + budget
        latencies: list[float] = []
        first = time.perf_counter()
        while time.time() < end:
            t0 = time.perf_counter()
            op()
            latencies.append(time.perf_counter() - t0)
            ops.n += 1
        conn.send((len(latencies) * 2, time.perf_counter() - first, latencies))
    ops.log.engine.dispose()


class Writers:
    def __init__(self, url: str, count: int, claimed: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs = []
        for i in range(count):
            parent, child = context.Pipe()
            args = (url, i, claimed, child)
            proc = context.Process(target=writer_main, args=args, daemon=True)
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a writer did not start")

    def run(self, name: str, writers: int, budget: float) -> tuple[float, float, float]:
        """records/s, p50 and p99 latency (ms) of ``writers`` writers running ``name``."""
        start_at = time.time() + 0.3
        used = self._pipes[:writers]
        for pipe in used:
            pipe.send((name, start_at, budget))
        results = [pipe.recv() for pipe in used]
        records = sum(r[0] for r in results)
        elapsed = max(r[1] for r in results)
        latencies = sorted(x for r in results for x in r[2])
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        return records / elapsed, p50, p99

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.send(None)
        for proc in self._procs:
            proc.join(10)


@contextmanager
def bench_schema(base: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = "bench_" + secrets.token_hex(4)
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


def spread(values: list[float]) -> str:
    return f"{min(values):9.1f} {statistics.median(values):9.1f} {max(values):9.1f}"


def appends(base: str, args: argparse.Namespace) -> dict[int, list[float]]:
    """Run the append rounds; the chained/plain ratios per writer count, per round."""
    names = [n for n in CONTENDERS if n != "single" or not args.skip_single]
    counts = [int(w) for w in args.writers.split(",")]
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    ratios: dict[int, list[float]] = {w: [] for w in counts}
    with bench_schema(base) as url:
        open_store(url, KEY).close()  # the schema, the chains' heads
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for copy in ("audit_plain", "audit_single"):
                conn.exec_driver_sql(f"CREATE TABLE {copy} (LIKE audit INCLUDING ALL)")
        engine.dispose()
        writers = Writers(url, max(counts), args.claimed)
        try:
            for round_no in range(args.rounds):
                for w in counts:
                    order = names[round_no % len(names) :] + names[: round_no % len(names)]
                    got = {name: writers.run(name, w, args.budget) for name in order}
                    for name, value in got.items():
                        results.setdefault((name, w), []).append(value)
                    ratios[w].append(got["chained"][0] / got["plain"][0])
                    print(
                        f"round {round_no + 1} writers {w:2d}: "
                        + "  ".join(
                            f"{n} {got[n][0]:7.0f}/s p99 {got[n][2]:6.1f} ms" for n in names
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            writers.close()
    print(
        f"{'contender':<10} {'writers':>7}   {'records/s min/med/max':>29}   "
        f"{'p50 ms min/med/max':>29}   {'p99 ms min/med/max':>29}"
    )
    for w in counts:
        for name in names:
            rounds = results[(name, w)]
            print(
                f"{name:<10} {w:>7}   {spread([r[0] for r in rounds])}   "
                f"{spread([r[1] for r in rounds])}   {spread([r[2] for r in rounds])}"
            )
        p99 = [
            c[2] / p[2] for c, p in zip(results[("chained", w)], results[("plain", w)], strict=True)
        ]
        print(
            f"{'':<10} {w:>7}   chained/plain records/s {spread(ratios[w]).strip()}   "
            f"p99 chained/plain {min(p99):.2f} {statistics.median(p99):.2f} {max(p99):.2f}"
        )
    return ratios


def fill_trail(url: str, records: int) -> None:
    """``records`` chained records over every chain, written with COPY."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    heads = {c: (0, chain_genesis(c), None) for c in range(CHAINS)}
    t0 = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)
    columns = "event_id, chain, at, action, actor, account_id, ip, subject, chain_hash"
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY audit ({columns}) FROM STDIN") as copy:
            for event_id in range(1, records + 1):
                chain = event_id % CHAINS
                count, previous, _ = heads[chain]
                event = AuditEvent(
                    AuditAction.LOGIN if event_id % 2 else AuditAction.SESSION_START,
                    t0 + timedelta(microseconds=event_id * 1000),
                    "web",
                    account_id=f"acc-{event_id // 2}",
                    ip="10.1.2.3",
                    subject=str(1_000_000_000 + event_id // 2),
                    event_id=event_id,
                )
                digest = chain_hash(previous, event)
                heads[chain] = (count + 1, digest, event_id)
                copy.write_row(
                    (
                        event_id,
                        chain,
                        event.at,
                        event.action.value,
                        "web",
                        event.account_id,
                        "10.1.2.3",
                        event.subject,
                        digest,
                    )
                )
        for chain, (count, digest, head_id) in heads.items():
            cur.execute(
                "UPDATE audit_heads SET records = %s, head_id = %s, hash = %s WHERE chain = %s",
                (count, head_id, digest, chain),
            )
        cur.execute("SELECT setval(pg_get_serial_sequence('audit', 'event_id'), %s)", (records,))
        cur.execute("ANALYZE audit")


def verify_rate(base: str, records: int) -> float:
    with bench_schema(base) as url:
        open_store(url, KEY).close()
        t0 = time.perf_counter()
        fill_trail(url, records)
        print(f"wrote {records} records in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        store = open_store(url, KEY)
        try:
            store.seal()
            t0 = time.perf_counter()
            report = verify_log(store)
            elapsed = time.perf_counter() - t0
        finally:
            store.close()
        if not report.ok or report.checked != records:
            raise SystemExit(f"verification failed: {report.problems[:3]}")
        print(
            f"verify: {records} records in {len(report.chains)} chains, "
            f"{elapsed:.1f} s with {os.cpu_count()} worker(s): {records / elapsed:,.0f} records/s"
        )
        return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("SSO_BRIDGE_TEST_POSTGRES"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--writers", default="1,4,16,64")
    parser.add_argument(
        "--skip-single", action="store_true", help="leave out the single-chain design"
    )
    parser.add_argument(
        "--claimed", action="store_true", help="chained appends claim a chain per transaction"
    )
    parser.add_argument("--verify-records", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.db:
        print("skipped: no PostgreSQL (set SSO_BRIDGE_TEST_POSTGRES or pass --db)", file=sys.stderr)
        print("chain_over_plain_16=n/a chain_over_plain_64=n/a verify_records_per_s=n/a")
        return
    ratios = appends(args.db, args)
    rate = verify_rate(args.db, args.verify_records)

    def ratio(w: int) -> str:
        return f"{statistics.median(ratios[w]):.2f}" if ratios.get(w) else "n/a"

    print(
        f"chain_over_plain_16={ratio(16)} chain_over_plain_64={ratio(64)} "
        f"verify_records_per_s={rate:.0f}"
    )


if __name__ == "__main__":
    main()
