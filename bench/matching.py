"""Benchmark: record matching and bulk import at scale, against hand-written peers.

A synthetic region from ``mock_idp.region`` (default 1,000,000 accounts in about 1,000
schools, with realistic name frequencies, namesakes and people with several accounts) is
imported into SQLite and, when a PostgreSQL server is given, into PostgreSQL. Then:

* **import**: ``import_accounts_csv`` (read, check, normalise, hash and write the CSV)
  against a floor: the very rows it stored, already parsed and hashed, written by plain
  driver code into an identical empty table whose secondary indexes are built afterwards
  (SQLite: ``executemany`` under the same pragmas; PostgreSQL: ``COPY``). The median of
  ``--import-rounds`` rounds, each into a fresh database, with the spread.
* **matching**: ``Matcher.match`` against a hand-written peer on each database: the
  driver (``sqlite3``; ``psycopg`` with a prepared statement) running one statement with
  ``OR`` over the key indexes, then the same decision code (``decide``). ``--queries``
  identities, ``--rounds`` rounds; ours and the peer take turns per query (who goes first
  alternates). Per round, p50 and p99 of wall time and of this thread's CPU time (the
  PostgreSQL server's work is in the wall time only); reported as the median over rounds
  with the min-max. Every decision of ours must equal the peer's.
* a full scan of the accounts table (``NOT INDEXED``) on a sample, as a correctness
  cross-check only.

Targets (as ratios in one run): match p50 and p99 <= 1.0x the peer on
both databases; import >= 0.7x the floor on both. The last line is machine-readable::

    match_p50_ratio=... match_p99_ratio=... pg_match_p50_ratio=... pg_match_p99_ratio=...
    import_floor_ratio=... pg_import_floor_ratio=...

(one line; latency ratios are ours / peer, import ratios ours / floor; ``nan`` when not
measured). ``--db PATH`` keeps the SQLite database (and the PostgreSQL schema is kept
anyway); a later run with the same ``--accounts`` and ``--seed`` reuses both instead of
importing again, and then reports no import figures.

Usage: ``python bench/matching.py [--accounts N] [--queries N] [--rounds N] [--db PATH]
[--pg URL | --no-pg]``; the PostgreSQL URL defaults to ``SSO_BRIDGE_TEST_POSTGRES``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# bench/mock_idp.py is named like the package; keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from mock_idp.region import (  # noqa: E402
    ISSUER,
    Person,
    PersonFactory,
    Query,
    QueryFactory,
    generate_directory,
    iter_directory,
)
from sso_bridge.importing import import_accounts_csv  # noqa: E402
from sso_bridge.importing.ports import ACCOUNT_ROW_COLUMNS  # noqa: E402
from sso_bridge.linking import Linker, RequestContext  # noqa: E402
from sso_bridge.matching import Matcher, decide, identity_keys  # noqa: E402
from sso_bridge.matching.decide import AccountEntry  # noqa: E402
from sso_bridge.matching.keys import BlindIndex, MatchKeys, number_date  # noqa: E402
from sso_bridge.matching.normalize import normalize_name, normalize_optional_name  # noqa: E402
from sso_bridge.model import (  # noqa: E402
    AccountStatus,
    FederatedIdentity,
    LocalAccount,
    MatchDecision,
    Organisation,
    Outcome,
)
from sso_bridge.store import SqlStore, open_store  # noqa: E402
from sso_bridge.store.sql import metadata  # noqa: E402

TARGET_ACCOUNTS = 1_000_000
LATENCY_TARGET = 1.0
IMPORT_TARGET = 0.7
COLUMNS = ", ".join(ACCOUNT_ROW_COLUMNS)
ACCOUNT_INDEXES = ("ix_accounts_name_key", "ix_accounts_snils", "ix_accounts_passport")


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the hand-written peers ---------------------------------------------------------------

PEER_SQL = """
SELECT a.account_id, a.org_id, a.login, a.roles, a.last_name, a.first_name, a.middle_name,
       a.birth_date, a.snils_hash, a.passport_hash, a.status, o.name, l.subject
FROM accounts AS a
JOIN organizations AS o ON o.org_id = a.org_id
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = {p}
WHERE a.name_key = {p} OR a.snils_hash = {p} OR a.passport_hash = {p}
"""

SCAN_SQL = """
SELECT a.account_id, a.org_id, a.login, a.roles, a.last_name, a.first_name, a.middle_name,
       a.birth_date, a.snils_hash, a.passport_hash, a.status, o.name, l.subject
FROM accounts AS a NOT INDEXED
CROSS JOIN organizations AS o
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = ?
WHERE o.org_id = a.org_id AND (a.name_key = ? OR a.snils_hash = ? OR a.passport_hash = ?)
"""


def peer_entry(row: Sequence[Any]) -> AccountEntry:
    """What a competent engineer writes to turn one row into the decision code's input."""
    birth = None if row[7] is None else number_date(row[7])
    account = LocalAccount(
        account_id=row[0],
        org_id=row[1],
        login=row[2],
        roles=tuple(r for r in row[3].split(";") if r),
        last_name=row[4],
        first_name=row[5],
        middle_name=row[6],
        birth_date=birth,
        status=AccountStatus(row[10]),
    )
    keys = MatchKeys(
        last=normalize_name(row[4]),
        first=normalize_name(row[5]),
        middle=normalize_optional_name(row[6]),
        birth_date=birth,
        snils=None if row[8] is None else bytes(row[8]),
        passport=None if row[9] is None else bytes(row[9]),
    )
    return AccountEntry(account, Organisation(row[1], row[11]), keys, row[12])


class Peer:
    """Keys, one statement on the driver, the same ``decide``: the matcher by hand."""

    def __init__(self, index: BlindIndex, fetch: Callable[[tuple[Any, ...]], list[Any]]) -> None:
        self.index = index
        self.fetch = fetch

    def match(self, identity: FederatedIdentity) -> MatchDecision:
        keys, warnings = identity_keys(identity, self.index)
        if not identity.verified:
            return MatchDecision(Outcome.LOCAL_LOGIN_REQUIRED, warnings=warnings)
        rows = self.fetch((identity.issuer, keys.name_key, keys.snils, keys.passport))
        return decide(identity, keys, [peer_entry(r) for r in rows], warnings)


def sqlite_peer(path: Path, index: BlindIndex, sql: str = PEER_SQL.format(p="?")) -> Peer:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")

    def fetch(params: tuple[Any, ...]) -> list[Any]:
        return conn.execute(sql, params).fetchall()

    return Peer(index, fetch)


def postgres_peer(conninfo: str, schema: str, index: BlindIndex) -> Peer:
    conn = psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={schema}")
    sql = PEER_SQL.format(p="%s")

    def fetch(params: tuple[Any, ...]) -> list[Any]:
        return conn.execute(sql, params, prepare=True).fetchall()

    return Peer(index, fetch)


def fingerprint(decision: MatchDecision) -> tuple[Any, ...]:
    """What two matchers must agree on: outcome, candidates, rejections, warnings."""
    return (
        decision.outcome,
        tuple(
            (c.account.account_id, c.matched_on, c.already_linked, c.notes)
            for c in decision.candidates
        ),
        tuple((r.account_id, r.reason) for r in decision.rejected),
        decision.warnings,
    )


# -- databases ----------------------------------------------------------------------------


@dataclass(slots=True)
class Backend:
    """One database: how to open the store, make it empty, and write the floor."""

    name: str
    url: str  # the store's URL
    conninfo: str = ""  # PostgreSQL: for psycopg
    schema: str = ""
    path: Path | None = None  # SQLite: the file

    def reset(self, suffix: str = "") -> None:
        """Make the store's database (or the floor's, with ``suffix``) empty."""
        if self.path is not None:
            target = self.file(suffix)
            for extra in ("", "-wal", "-shm"):
                Path(f"{target}{extra}").unlink(missing_ok=True)
            return
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema}{suffix} CASCADE")
            conn.execute(f"CREATE SCHEMA {self.schema}{suffix}")

    def file(self, suffix: str) -> Path:
        if self.path is None:
            raise TypeError("not a SQLite backend")
        return self.path.with_name(self.path.stem + suffix + self.path.suffix)

    def store_url(self, suffix: str = "") -> str:
        if self.path is not None:
            return f"sqlite:///{self.file(suffix)}"
        return f"{self.url}?options=-csearch_path%3D{self.schema}{suffix}"

    def info(self) -> tuple[int, int] | None:
        """(accounts, seed) this database was made for, if it is a complete bench database."""
        try:
            engine = sa.create_engine(self.store_url())
            try:
                with engine.connect() as conn:
                    row = conn.exec_driver_sql("SELECT accounts, seed FROM bench_info").first()
            finally:
                engine.dispose()
        except sa.exc.DBAPIError:
            return None
        return None if row is None else (int(row[0]), int(row[1]))

    def mark(self, accounts: int, seed: int) -> None:
        engine = sa.create_engine(self.store_url())
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE bench_info (accounts BIGINT, seed BIGINT)")
                conn.exec_driver_sql(f"INSERT INTO bench_info VALUES ({accounts}, {seed})")
        finally:
            engine.dispose()


def stored_rows(store: SqlStore) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """Every account as stored (the floor's pre-parsed rows) and every organisation."""
    with store.engine.connect() as conn:
        orgs = [tuple(r) for r in conn.exec_driver_sql("SELECT org_id, name FROM organizations")]
        rows = conn.exec_driver_sql(f"SELECT {COLUMNS} FROM accounts ORDER BY account_id")
        accounts = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    return accounts, orgs  # type: ignore[return-value]


def floor_sqlite(backend: Backend, rows: list[Any], orgs: list[Any]) -> float:
    """Seconds to write pre-parsed rows into an identical empty table, indexes after."""
    backend.reset("_floor")
    engine = sa.create_engine(backend.store_url("_floor"))
    metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(backend.file("_floor"), isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA cache_size=-262144")  # as the store's import sets it
        conn.execute("PRAGMA threads=2")
        indexes = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'accounts' "
            "AND sql IS NOT NULL"
        ).fetchall()
        marks = ", ".join("?" * len(ACCOUNT_ROW_COLUMNS))
        gc.collect()
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO organizations (org_id, name) VALUES (?, ?)", orgs)
        for name in [n for (n,) in conn.execute(_INDEX_NAMES)]:
            conn.execute(f"DROP INDEX {name}")
        conn.executemany(f"INSERT INTO accounts ({COLUMNS}) VALUES ({marks})", rows)
        for (sql,) in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


_INDEX_NAMES = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'accounts' "
    "AND sql IS NOT NULL"
)


def floor_postgres(backend: Backend, rows: list[Any], orgs: list[Any]) -> float:
    """Seconds to COPY pre-parsed rows into an identical empty table, indexes after."""
    backend.reset("_floor")
    engine = sa.create_engine(backend.store_url("_floor"))
    metadata.create_all(engine)
    engine.dispose()
    schema = f"{backend.schema}_floor"
    with psycopg.connect(backend.conninfo, options=f"-c search_path={schema}") as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts' "
            "AND schemaname = %s AND indexname LIKE 'ix_%%'",
            (schema,),
        ).fetchall()
        conn.commit()
        gc.collect()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY organizations (org_id, name) FROM STDIN") as copy:
                for org in orgs:
                    copy.write_row(org)
            for name, _ in indexes:
                cur.execute(f"DROP INDEX {name}")
            with cur.copy(f"COPY accounts ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            for _, sql in indexes:
                cur.execute(sql)
        conn.commit()
        return time.perf_counter() - started


# -- import -------------------------------------------------------------------------------


@dataclass(slots=True)
class ImportFigures:
    ours_s: list[float] = field(default_factory=list)
    ours_cpu_s: list[float] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        if not self.ours_s:
            return math.nan
        return statistics.median(self.floor_s) / statistics.median(self.ours_s)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_import(
    backend: Backend, key: bytes, csv_path: Path, accounts: int, rounds: int
) -> ImportFigures:
    figures = ImportFigures()
    floor = floor_sqlite if backend.path is not None else floor_postgres
    rows: list[Any] = []
    orgs: list[Any] = []
    for number in range(1, rounds + 1):
        backend.reset()
        store = open_store(backend.store_url(), key)
        try:
            gc.collect()
            cpu, started = cpu_seconds(), time.perf_counter()
            report = import_accounts_csv(store, csv_path)
            figures.ours_s.append(time.perf_counter() - started)
            figures.ours_cpu_s.append(cpu_seconds() - cpu)
            if report.imported != accounts:
                raise SystemExit(f"imported {report.imported:,} accounts, expected {accounts:,}")
            if not rows:
                rows, orgs = stored_rows(store)
        finally:
            store.close()
        figures.floor_s.append(floor(backend, rows, orgs))
        say(
            f"  {backend.name} import round {number}: ours {accounts / figures.ours_s[-1]:,.0f}"
            f" rows/s ({figures.ours_cpu_s[-1] / figures.ours_s[-1]:.2f} CPUs busy), floor "
            f"{accounts / figures.floor_s[-1]:,.0f} rows/s"
        )
    backend.reset("_floor")
    return figures


def make_links(store: SqlStore, picked: Sequence[tuple[Person, str]]) -> int:
    linker = Linker(store, store, store)
    ctx = RequestContext("bench:setup")
    made = 0
    for person, subject in picked:
        for account_id in person.accounts:
            linker.link_admin(ISSUER, subject, account_id, ctx)
            made += 1
    return made


# -- matching -----------------------------------------------------------------------------


def percentile(ordered: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in milliseconds."""
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] / 1e6


@dataclass(slots=True)
class Rounds:
    """Per round: p50 and p99 (ms) of wall and of CPU time, for one matcher."""

    wall_p50: list[float] = field(default_factory=list)
    wall_p99: list[float] = field(default_factory=list)
    cpu_p50: list[float] = field(default_factory=list)
    cpu_p99: list[float] = field(default_factory=list)

    def add(self, wall: list[int], cpu: list[int]) -> None:
        wall.sort()
        cpu.sort()
        self.wall_p50.append(percentile(wall, 50))
        self.wall_p99.append(percentile(wall, 99))
        self.cpu_p50.append(percentile(cpu, 50))
        self.cpu_p99.append(percentile(cpu, 99))


@dataclass(slots=True)
class MatchFigures:
    ours: Rounds = field(default_factory=Rounds)
    peer: Rounds = field(default_factory=Rounds)
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def ratios(self, stat: str) -> list[float]:
        ours, peer = getattr(self.ours, stat), getattr(self.peer, stat)
        return [o / p for o, p in zip(ours, peer, strict=True)]

    def ratio(self, stat: str) -> float:
        return statistics.median(self.ratios(stat)) if self.ours.wall_p50 else math.nan


def timed_rounds(
    ours: Callable[[FederatedIdentity], MatchDecision],
    peer: Callable[[FederatedIdentity], MatchDecision],
    queries: Sequence[Query],
    rounds: int,
) -> MatchFigures:
    figures = MatchFigures()
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for number in range(rounds):
        times: dict[str, tuple[list[int], list[int]]] = {"ours": ([], []), "peer": ([], [])}
        for i, query in enumerate(queries):
            turns = (("ours", ours), ("peer", peer))
            decisions = {}
            for who, match in turns if (i + number) % 2 == 0 else reversed(turns):
                c0, w0 = cpu(), wall()
                decisions[who] = match(query.identity)
                w1, c1 = wall(), cpu()
                times[who][0].append(w1 - w0)
                times[who][1].append(c1 - c0)
            if number == 0:
                figures.compared += 1
                figures.outcomes[decisions["ours"].outcome.value] += 1
                if fingerprint(decisions["ours"]) != fingerprint(decisions["peer"]):
                    figures.mismatches.append(f"query {i} ({query.kind})")
        figures.ours.add(*times["ours"])
        figures.peer.add(*times["peer"])
    return figures


def scan_check(store: SqlStore, path: Path, queries: Sequence[Query], sample: int) -> str:
    """Ours against a full scan of the accounts table on ``sample`` queries."""
    scan = sqlite_peer(path, store.blind_index, SCAN_SQL)
    conn = sqlite3.connect(path)
    steps = [r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + SCAN_SQL, (ISSUER, 1, b"", b""))]
    conn.close()
    if not steps or steps[0] != "SCAN a":
        raise SystemExit(f"the full-scan statement does not scan accounts first: {steps}")
    matcher = Matcher(store)
    step = max(1, len(queries) // max(1, sample))
    picked = list(range(0, len(queries), step))[:sample]
    bad = [
        i
        for i in picked
        if fingerprint(matcher.match(queries[i].identity))
        != fingerprint(scan.match(queries[i].identity))
    ]
    agreed = len(picked) - len(bad)
    return f"{agreed}/{len(picked)} decisions equal a full scan's" + (
        f"; differ: {bad[:10]}" if bad else ""
    )


# -- the run ------------------------------------------------------------------------------


@dataclass(slots=True)
class Region:
    people: list[Person]
    linked: list[tuple[Person, str]]
    accounts: int


def region(seed: int, accounts: int, links: int, csv_path: Path | None) -> Region:
    """The people of the region (and its CSV, when a path is given), and who is linked."""
    rng = random.Random(seed)
    if csv_path is not None:
        directory = generate_directory(rng, accounts, csv_path)
    else:
        directory, rows = iter_directory(rng, accounts)
        for _ in rows:
            pass
    people = directory.people
    pick = random.Random(seed + 1)
    chosen = pick.sample(people, min(links, len(people) // 100))
    linked = [(p, str(pick.randrange(1_000_000_000, 9_999_999_999))) for p in chosen]
    return Region(people, linked, directory.accounts)


def build_queries(found: Region, seed: int, count: int) -> list[Query]:
    for person, subject in found.linked:
        person.subject = subject
    rng = random.Random(seed + 2)
    factory = PersonFactory.outside(rng, found.people)
    return QueryFactory(rng, found.people, factory).build(count)


def run_matching(
    name: str, store: SqlStore, peer: Peer, queries: Sequence[Query], args: argparse.Namespace
) -> MatchFigures:
    matcher = Matcher(store)
    warm = queries[: args.warmup]
    for query in warm:
        matcher.match(query.identity)
        peer.match(query.identity)
    gc.collect()
    figures = timed_rounds(matcher.match, peer.match, queries[args.warmup :], args.rounds)
    say(
        f"  {name}: {figures.compared:,} queries x {args.rounds} rounds, decisions equal: "
        f"{figures.compared - len(figures.mismatches):,}/{figures.compared:,}"
    )
    return figures


def spread(values: Sequence[float], digits: int = 3) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def report_matching(name: str, peer_name: str, figures: MatchFigures) -> None:
    say(f"{name} matching, ms per decision, median over rounds (min-max):")
    say(f"  {'':<34}{'wall p50':>22}{'wall p99':>22}{'CPU p50':>22}{'CPU p99':>22}")
    for who, rounds in (("sso_bridge Matcher", figures.ours), (peer_name, figures.peer)):
        say(
            f"  {who:<34}{spread(rounds.wall_p50):>22}{spread(rounds.wall_p99):>22}"
            f"{spread(rounds.cpu_p50):>22}{spread(rounds.cpu_p99):>22}"
        )
    ratios = [spread(figures.ratios(s), 2) for s in ("wall_p50", "wall_p99", "cpu_p50", "cpu_p99")]
    say(f"  {'ours / peer':<34}" + "".join(f"{r:>22}" for r in ratios))
    for line in figures.mismatches[:10]:
        say(f"  DIFFERENT DECISION: {line}")


def report_import(name: str, accounts: int, figures: ImportFigures, floor_name: str) -> None:
    if not figures.ours_s:
        say(f"{name} import: not measured (the database was reused)")
        return
    ours = [accounts / s for s in figures.ours_s]
    floor = [accounts / s for s in figures.floor_s]
    cpus = [c / s for c, s in zip(figures.ours_cpu_s, figures.ours_s, strict=True)]
    say(f"{name} import of {accounts:,} accounts, rows/s, median of {len(ours)} (min-max):")
    say(f"  sso_bridge import_accounts_csv        {spread(ours, 0)}  ({spread(cpus, 2)} CPUs busy)")
    say(f"  floor: {floor_name:<31}{spread(floor, 0)}")
    say(f"  ours / floor                          {figures.ratio():.2f}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=TARGET_ACCOUNTS)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=500, help="untimed queries first")
    parser.add_argument("--import-rounds", type=int, default=3)
    parser.add_argument("--links", type=int, default=2_000, help="people linked (at most 1%%)")
    parser.add_argument("--scan-queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--db", type=Path, help="SQLite file to keep and reuse")
    parser.add_argument("--pg", default=os.environ.get("SSO_BRIDGE_TEST_POSTGRES"))
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg-schema", default="sso_bridge_bench")
    args = parser.parse_args(argv)
    if min(args.accounts, args.queries, args.rounds, args.import_rounds) < 1:
        parser.error("--accounts, --queries, --rounds and --import-rounds must be at least 1")
    return args


def backends(args: argparse.Namespace, work: Path) -> list[Backend]:
    found = [Backend("SQLite", "", path=args.db or work / "accounts.db")]
    if args.pg and not args.no_pg:
        conninfo = args.pg.replace("postgresql+psycopg://", "postgresql://", 1)
        url = conninfo.replace("postgresql://", "postgresql+psycopg://", 1)
        found.append(Backend("PostgreSQL", url, conninfo=conninfo, schema=args.pg_schema))
    return found


@dataclass(slots=True)
class Results:
    imports: dict[str, ImportFigures] = field(default_factory=dict)
    matches: dict[str, MatchFigures] = field(default_factory=dict)


def prepare(
    args: argparse.Namespace, work: Path, key: bytes, dbs: list[Backend], result: Results
) -> Region:
    fresh = [b for b in dbs if b.info() != (args.accounts, args.seed)]
    started = time.perf_counter()
    csv_path = work / "accounts.csv" if fresh else None
    found = region(args.seed, args.accounts, args.links, csv_path)
    # The region's million objects are the benchmark's, not the import's: keep the
    # collector from walking them during the timed imports.
    gc.collect()
    gc.freeze()
    say(
        f"region       {found.accounts:,} accounts of {len(found.people):,} people in "
        f"{time.perf_counter() - started:.0f} s"
        + (f" ({csv_path.stat().st_size / 1e6:.0f} MB CSV)" if csv_path else "")
    )
    for backend in dbs:
        if backend not in fresh:
            say(f"{backend.name:<12} reusing the kept database (seed {args.seed})")
            result.imports[backend.name] = ImportFigures()
            continue
        if csv_path is None:
            raise RuntimeError("no CSV for a database that needs an import")
        result.imports[backend.name] = measure_import(
            backend, key, csv_path, found.accounts, args.import_rounds
        )
        store = open_store(backend.store_url(), key)
        try:
            started = time.perf_counter()
            made = make_links(store, found.linked)
            if backend.path is None:
                with store.engine.begin() as conn:
                    # the statistics autovacuum would have gathered by the next login
                    conn.exec_driver_sql("ANALYZE")
            say(
                f"  {backend.name} links: {made:,} accounts linked in "
                f"{time.perf_counter() - started:.1f} s"
            )
        finally:
            store.close()
        backend.mark(args.accounts, args.seed)
    if csv_path is not None:
        csv_path.unlink()
    return found


def benchmark(args: argparse.Namespace, work: Path) -> Results:
    key = hashlib.sha256(f"sso_bridge bench key {args.seed}".encode()).digest()
    index = BlindIndex(key)
    dbs = backends(args, work)
    result = Results()
    found = prepare(args, work, key, dbs, result)
    queries = build_queries(found, args.seed, args.warmup + args.queries)
    del found
    gc.collect()
    gc.freeze()  # the region's objects are not what the collector should walk while timing
    for backend in dbs:
        store = open_store(backend.store_url(), key, create=False)
        try:
            if backend.path is not None:
                peer = sqlite_peer(backend.path, index)
            else:
                peer = postgres_peer(backend.conninfo, backend.schema, index)
            result.matches[backend.name] = run_matching(backend.name, store, peer, queries, args)
            if backend.path is not None:
                say(f"  cross-check: {scan_check(store, backend.path, queries, args.scan_queries)}")
        finally:
            store.close()
    return result


def summary(args: argparse.Namespace, result: Results) -> str:
    say()
    peers = {"SQLite": "plain sqlite3, one OR statement", "PostgreSQL": "psycopg, prepared"}
    floors = {
        "SQLite": "sqlite3 executemany, idx after",
        "PostgreSQL": "COPY, indexes after",
    }
    for name, figures in result.matches.items():
        report_matching(name, peers[name], figures)
        report_import(name, args.accounts, result.imports[name], floors[name])
        p50, p99 = figures.ratio("wall_p50"), figures.ratio("wall_p99")
        imp = result.imports[name].ratio()
        say(
            f"  targets: match p50 <= {LATENCY_TARGET}x {verdict(p50 <= LATENCY_TARGET)}, "
            f"p99 <= {LATENCY_TARGET}x {verdict(p99 <= LATENCY_TARGET)}, import >= "
            f"{IMPORT_TARGET}x floor "
            + ("not measured" if math.isnan(imp) else verdict(imp >= IMPORT_TARGET))
        )
        say()
    empty = MatchFigures()
    sq, pg = result.matches.get("SQLite", empty), result.matches.get("PostgreSQL", empty)
    none = ImportFigures()
    return (
        f"match_p50_ratio={sq.ratio('wall_p50'):.2f} match_p99_ratio={sq.ratio('wall_p99'):.2f} "
        f"pg_match_p50_ratio={pg.ratio('wall_p50'):.2f} "
        f"pg_match_p99_ratio={pg.ratio('wall_p99'):.2f} "
        f"import_floor_ratio={result.imports.get('SQLite', none).ratio():.2f} "
        f"pg_import_floor_ratio={result.imports.get('PostgreSQL', none).ratio():.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    say(
        f"sso_bridge matching benchmark: Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"seed {args.seed}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    work = Path(tempfile.mkdtemp(prefix="sso_bridge_bench_"))
    started = time.perf_counter()
    try:
        result = benchmark(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    line = summary(args, result)
    say(f"total time {time.perf_counter() - started:.0f} s")
    if args.db:
        say(f"kept: {args.db} (reused by the next run with the same --accounts and --seed)")
    say(line)
    bad = any(f.mismatches for f in result.matches.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
