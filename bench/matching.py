"""Benchmark: bulk account import and record matching at scale, on SQLite.

Generates a synthetic regional directory (default 1,000,000 accounts in about 1,000
schools) with realistic Russian name frequencies, namesakes and duplicate accounts of one
person, writes it as an import CSV and then measures:

* the bulk import (``import_accounts_csv``: parse, check, normalise, hash, write), next to
  a floor: the same CSV put into an equally indexed table with plain ``sqlite3``;
* ``Matcher.match`` over 10,000 federated identities, next to a naive matcher that makes
  the same decision from a full scan of the accounts table (``NOT INDEXED``), timed on a
  smaller sample; on that sample both must reach identical decisions.

Targets: import >= 100,000 rows/s; match p99 <= 1 ms at 1,000,000 accounts.
The last line of the output is machine-readable::

    import_rows_per_s=... match_p50_ms=... match_p99_ms=... scan_p99_ms=...

Usage: ``python bench/matching.py [--accounts N] [--queries N] [--scan-queries N]``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# bench/mock_idp.py is named like the package; keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import sqlalchemy as sa  # noqa: E402

from mock_idp.region import (  # noqa: E402
    ISSUER,
    QUERY_KINDS,
    Directory,
    Person,
    PersonFactory,
    Query,
    QueryFactory,
    generate_directory,
    namesake_figures,
)
from sso_bridge.errors import ImportRejected  # noqa: E402
from sso_bridge.importing import COLUMNS, import_accounts_csv  # noqa: E402
from sso_bridge.keyfile import create_key_file  # noqa: E402
from sso_bridge.linking import Linker, RequestContext  # noqa: E402
from sso_bridge.matching import Matcher, MatchKeys, decide, identity_keys  # noqa: E402
from sso_bridge.model import (  # noqa: E402
    FederatedIdentity,
    MatchDecision,
    Outcome,
)
from sso_bridge.store import SqlStore, open_store  # noqa: E402
from sso_bridge.store.sql import accounts as accounts_table  # noqa: E402

IMPORT_TARGET_ROWS_PER_S = 100_000
MATCH_TARGET_P99_MS = 1.0
TARGET_ACCOUNTS = 1_000_000

# -- the naive full-scan matcher ----------------------------------------------------------

SCAN_SQL = """
SELECT a.*, o.name AS org_name, l.subject AS linked
FROM accounts AS a NOT INDEXED
CROSS JOIN organizations AS o
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = :issuer
WHERE o.org_id = a.org_id
  AND (a.name_key = :name_key OR a.snils_hash = :snils OR a.passport_hash = :passport)
"""


class ScanMatcher:
    """The same decision as :class:`Matcher`, from a full scan of the accounts table."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.query = self.statement(SCAN_SQL).columns(
            *accounts_table.c, sa.column("org_name", sa.Text), sa.column("linked")
        )

    @staticmethod
    def statement(sql: str) -> sa.TextClause:
        return sa.text(sql).bindparams(
            sa.bindparam("snils", type_=sa.LargeBinary),
            sa.bindparam("passport", type_=sa.LargeBinary),
        )

    @staticmethod
    def params(keys: MatchKeys, issuer: str) -> dict[str, Any]:
        return {
            "name_key": keys.name_key,
            "snils": keys.snils,
            "passport": keys.passport,
            "issuer": issuer,
        }

    def plan(self) -> list[str]:
        """SQLite's query plan for the scan, one line per step."""
        keys = MatchKeys("x", "y", None, date(2000, 1, 1), b"s", b"p")
        with self.store.engine.connect() as conn:
            explain = self.statement("EXPLAIN QUERY PLAN " + SCAN_SQL)
            rows = conn.execute(explain, self.params(keys, ISSUER))
            return [str(r[-1]) for r in rows]

    def match(self, identity: FederatedIdentity) -> MatchDecision:
        keys, warnings = identity_keys(identity, self.store.blind_index)
        if not identity.verified:
            return MatchDecision(Outcome.LOCAL_LOGIN_REQUIRED, warnings=warnings)
        with self.store.engine.connect() as conn:
            rows = conn.execute(self.query, self.params(keys, identity.issuer)).mappings().all()
        entries = [SqlStore.entry_from_row(r) for r in rows]
        return decide(identity, keys, entries, warnings)


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


# -- measuring ----------------------------------------------------------------------------


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond timings, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, timings_ns: Sequence[int], wall_ns: int) -> Latency:
        ordered = sorted(timings_ns)
        return cls(
            len(ordered),
            wall_ns / 1e9,
            percentile(ordered, 50),
            percentile(ordered, 99),
            ordered[-1] / 1e6,
        )

    def line(self) -> str:
        rate = self.count / self.wall_s if self.wall_s else float("inf")
        return (
            f"p50 {self.p50_ms:.3f} ms  p99 {self.p99_ms:.3f} ms  max {self.max_ms:.3f} ms"
            f"  ({self.count:,} in {self.wall_s:.2f} s, {rate:,.0f}/s)"
        )


def run_timed(
    match: Any, identities: Sequence[FederatedIdentity]
) -> tuple[list[int], list[MatchDecision], int]:
    """Time each ``match(identity)``: (per-call ns, decisions, wall ns)."""
    clock = time.perf_counter_ns
    timings: list[int] = []
    decisions: list[MatchDecision] = []
    started = clock()
    for identity in identities:
        t0 = clock()
        decision = match(identity)
        timings.append(clock() - t0)
        decisions.append(decision)
    return timings, decisions, clock() - started


def import_floor(csv_path: Path, db_path: Path) -> float:
    """Seconds to put the CSV into an equally indexed table with plain sqlite3, unchecked."""
    columns = ", ".join(f"{c} TEXT" for c in COLUMNS)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"CREATE TABLE raw ({columns}, PRIMARY KEY (account_id))")
        conn.execute("CREATE INDEX raw_name ON raw (last_name, first_name, birth_date)")
        conn.execute("CREATE INDEX raw_snils ON raw (snils)")
        conn.execute("CREATE INDEX raw_passport ON raw (passport)")
        conn.execute("CREATE INDEX raw_org ON raw (org_id)")
        insert = f"INSERT INTO raw VALUES ({', '.join('?' * len(COLUMNS))})"
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            next(rows)
            conn.execute("BEGIN")
            conn.executemany(insert, rows)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()
        for path in _sidecars(db_path)[:3]:
            path.unlink(missing_ok=True)


def make_links(store: SqlStore, rng: random.Random, people: list[Person], count: int) -> int:
    """Link all accounts of ``count`` people to an ESIA subject each; returns links made."""
    linker = Linker(store, store, store)
    ctx = RequestContext("bench:setup")
    made = 0
    for person in rng.sample(people, min(count, len(people) // 100)):
        person.subject = str(rng.randrange(1_000_000_000, 9_999_999_999))
        for account_id in person.accounts:
            linker.link_admin(ISSUER, person.subject, account_id, ctx)
            made += 1
    return made


# -- the run ------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    accounts: int = 0
    import_s: float = 0.0
    floor_s: float = 0.0
    match: Latency | None = None
    scan: Latency | None = None
    scan_sample: Latency | None = None
    agreed: int = 0
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def import_rate(self) -> float:
        return self.accounts / self.import_s

    @property
    def floor_rate(self) -> float:
        return self.accounts / self.floor_s


def say(text: str = "") -> None:
    print(text, flush=True)


def report_generation(directory: Directory, seconds: float, path: Path) -> None:
    people, stats = directory.people, directory.stats
    duplicated = [p for p in people if len(p.accounts) > 1]
    share = {k: f"{100 * v / directory.accounts:.1f}%" for k, v in stats.items()}
    same_name, same_name_birth = namesake_figures(people)
    say(
        f"generated    {directory.accounts:,} accounts of {len(people):,} people in "
        f"{directory.schools:,} schools in {seconds:.1f} s ({path.stat().st_size / 1e6:.0f} MB CSV)"
    )
    say(
        f"  duplicates {len(duplicated):,} people have 2-3 accounts "
        f"({sum(len(p.accounts) for p in duplicated):,} accounts)"
    )
    say(
        f"  namesakes  {same_name:,} people share their full name with someone; "
        f"{same_name_birth:,} share full name and birth date"
    )
    say(f"  with SNILS {share['SNILS']}, passport {share['passport']}, blocked {share['blocked']}")
    for key in sorted(stats):
        if key not in ("SNILS", "passport", "blocked"):
            say(f"  {key}: {stats[key]:,}")


def run_import(store: SqlStore, csv_path: Path, expected: int) -> float:
    gc.collect()
    started = time.perf_counter()
    try:
        report = import_accounts_csv(store, csv_path)
    except ImportRejected as exc:
        raise SystemExit(f"the generated CSV was rejected: {exc}") from None
    seconds = time.perf_counter() - started
    if report.imported != expected:
        raise SystemExit(f"imported {report.imported:,} accounts, expected {expected:,}")
    say(
        f"import       {report.imported:,} rows in {seconds:.2f} s = "
        f"{report.imported / seconds:,.0f} rows/s ({len(report.warnings):,} row warnings)"
    )
    return seconds


def run_matches(
    store: SqlStore, queries: Sequence[Query], warmup: Sequence[Query]
) -> tuple[Latency, list[int], list[MatchDecision]]:
    matcher = Matcher(store)
    run_timed(matcher.match, [q.identity for q in warmup])
    gc.collect()
    timings, decisions, wall = run_timed(matcher.match, [q.identity for q in queries])
    latency = Latency.of(timings, wall)
    say(f"match        {latency.line()}")
    return latency, timings, decisions


def report_kinds(
    queries: Sequence[Query], timings: Sequence[int], decisions: Sequence[MatchDecision]
) -> None:
    say("  by query kind (count, p50/p99 ms, outcomes):")
    for kind, _ in QUERY_KINDS:
        picked = [i for i, q in enumerate(queries) if q.kind == kind]
        if not picked:
            continue
        ordered = sorted(timings[i] for i in picked)
        outcomes = Counter(decisions[i].outcome.value for i in picked)
        shown = ", ".join(f"{o} {n}" for o, n in outcomes.most_common())
        say(
            f"    {kind:<30} {len(picked):>6,}  {percentile(ordered, 50):.3f}/"
            f"{percentile(ordered, 99):.3f}  {shown}"
        )


def run_scan(
    store: SqlStore,
    queries: Sequence[Query],
    decisions: Sequence[MatchDecision],
    timings: Sequence[int],
    results: Results,
) -> None:
    scanner = ScanMatcher(store)
    plan = scanner.plan()
    if not plan or plan[0] != "SCAN a":
        raise SystemExit(f"the full-scan query does not scan accounts first: {plan}")
    step = max(1, len(queries) // max(1, results.compared))
    picked = list(range(0, len(queries), step))[: results.compared]
    scanner.match(queries[picked[0]].identity)
    scan_ns, scan_decisions, wall = run_timed(scanner.match, [queries[i].identity for i in picked])
    results.scan = Latency.of(scan_ns, wall)
    results.scan_sample = Latency.of([timings[i] for i in picked], sum(timings[i] for i in picked))
    for i, scanned in zip(picked, scan_decisions, strict=True):
        if fingerprint(scanned) == fingerprint(decisions[i]):
            results.agreed += 1
        else:
            results.mismatches.append(
                f"query {i} ({queries[i].kind}): indexed {fingerprint(decisions[i])} "
                f"!= scan {fingerprint(scanned)}"
            )
    say(f"full scan    {results.scan.line()}")
    say(f"  plan       {'; '.join(plan)}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_summary(results: Results) -> None:
    match, scan, sample = results.match, results.scan, results.scan_sample
    if match is None or scan is None or sample is None:
        raise RuntimeError("nothing measured")
    at_scale = results.accounts >= TARGET_ACCOUNTS
    say()
    say("summary")
    rate, floor = results.import_rate, results.floor_rate
    say(
        f"  import      {rate:>12,.0f} rows/s   floor (plain sqlite3, no checks) "
        f"{floor:,.0f} rows/s   ours/floor {rate / floor:.2f}"
    )
    say(
        f"  import target >= {IMPORT_TARGET_ROWS_PER_S:,} rows/s: "
        f"{verdict(rate >= IMPORT_TARGET_ROWS_PER_S)}"
    )
    for name, ours, peer in (
        ("p50", match.p50_ms, scan.p50_ms),
        ("p99", match.p99_ms, scan.p99_ms),
        ("max", match.max_ms, scan.max_ms),
    ):
        say(
            f"  match {name}   {ours:>12.3f} ms       full scan {peer:,.3f} ms"
            f"   scan/indexed x{peer / ours:,.0f}"
        )
    target = verdict(match.p99_ms <= MATCH_TARGET_P99_MS)
    scale = "" if at_scale else f" (target is for {TARGET_ACCOUNTS:,} accounts)"
    say(f"  match p99 target <= {MATCH_TARGET_P99_MS} ms: {target}{scale}")
    say(
        f"  scan sample: indexed p99 {sample.p99_ms:.3f} ms on the same {sample.count} queries; "
        f"scan p99 / match p99 = {scan.p99_ms / match.p99_ms:,.0f}"
    )
    check = verdict(not results.mismatches)
    say(
        f"  cross-check {results.agreed}/{results.compared} scan decisions equal the indexed "
        f"matcher's (outcome, candidates, rejections, warnings): {check}"
    )
    for line in results.mismatches[:10]:
        say(f"    {line}")


def machine_line(results: Results) -> str:
    match, scan = results.match, results.scan
    if match is None or scan is None:
        raise RuntimeError("nothing measured")
    return (
        f"import_rows_per_s={int(results.import_rate)} match_p50_ms={match.p50_ms:.3f} "
        f"match_p99_ms={match.p99_ms:.3f} scan_p99_ms={scan.p99_ms:.3f}"
    )


# -- command line -------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark bulk import and record matching on SQLite against a full scan."
    )
    parser.add_argument("--accounts", type=positive, default=TARGET_ACCOUNTS)
    parser.add_argument("--queries", type=positive, default=10_000)
    parser.add_argument("--scan-queries", type=positive, default=100)
    parser.add_argument("--warmup", type=int, default=500, help="untimed matches first")
    parser.add_argument(
        "--links", type=int, default=2_000, help="people linked first (at most 1%%)"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--db",
        type=Path,
        help="SQLite file to create (default: a temp file); deleted unless --keep",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the CSV")
    return parser.parse_args(argv)


def _sidecars(db: Path) -> list[Path]:
    return [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", ".key"))]


@dataclass(slots=True)
class Workspace:
    """The temporary directory (CSV, floor database) and the benchmark database."""

    root: Path
    db: Path
    keep: bool

    @classmethod
    def create(cls, db: Path | None, keep: bool) -> Workspace:
        if db is not None and any(p.exists() for p in _sidecars(db)):
            raise SystemExit(f"{db} (or its -wal, -shm or .key file) exists; give a new path")
        root = Path(tempfile.mkdtemp(prefix="sso_bridge_bench_"))
        return cls(root, db or root / "accounts.db", keep)

    def cleanup(self) -> None:
        if self.keep:
            say(f"kept: {self.db} (key {self.db.name}.key beside it), CSV in {self.root}")
            return
        for path in _sidecars(self.db):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)


def prepare(args: argparse.Namespace, work: Workspace) -> tuple[Directory, float]:
    csv_path = work.root / "accounts.csv"
    started = time.perf_counter()
    directory = generate_directory(random.Random(args.seed), args.accounts, csv_path)
    seconds = time.perf_counter() - started
    report_generation(directory, seconds, csv_path)
    return directory, seconds


def benchmark(args: argparse.Namespace, work: Workspace) -> Results:
    directory, _ = prepare(args, work)
    results = Results(accounts=directory.accounts, compared=min(args.scan_queries, args.queries))
    store = open_store(f"sqlite:///{work.db}", create_key_file(_sidecars(work.db)[3]))
    try:
        people = directory.people
        directory.people = []
        gc.collect()
        results.import_s = run_import(store, work.root / "accounts.csv", directory.accounts)
        results.floor_s = import_floor(work.root / "accounts.csv", work.root / "floor.db")
        say(
            f"  floor      plain sqlite3 executemany: {directory.accounts / results.floor_s:,.0f}/s"
        )
        rng = random.Random(args.seed + 1)
        started = time.perf_counter()
        linked = make_links(store, rng, people, args.links)
        say(f"links        {linked:,} accounts linked in {time.perf_counter() - started:.1f} s")
        factory = PersonFactory(rng)
        factory.used_snils = {p.snils for p in people if p.snils}
        factory.used_passports = {p.passport for p in people if p.passport}
        queries = QueryFactory(rng, people, factory).build(args.warmup + args.queries)
        del people, factory
        gc.collect()
        warmup, timed = queries[: args.warmup], queries[args.warmup :]
        results.match, timings, decisions = run_matches(store, timed, warmup)
        report_kinds(timed, timings, decisions)
        run_scan(store, timed, decisions, timings, results)
    finally:
        store.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    say(
        f"sso_bridge matching benchmark: Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, seed {args.seed}"
    )
    work = Workspace.create(args.db, args.keep)
    started = time.perf_counter()
    try:
        results = benchmark(args, work)
    finally:
        work.cleanup()
    report_summary(results)
    say(f"  total time  {time.perf_counter() - started:.0f} s")
    say(machine_line(results))
    return 1 if results.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
