"""Benchmark: the cost of one audit append through the store's public API.

Appends ``--records`` login records, one ``record()`` each (one transaction each), to a
fresh SQLite file and, when ``SSO_BRIDGE_TEST_POSTGRES`` is set, to a fresh PostgreSQL
schema, after ``--warmup`` untimed ones; reports microseconds per append (wall clock and
this process's CPU) as min / median / max over ``--rounds`` rounds.

It uses only ``sso_bridge.store.open_store`` and ``record()``, so it runs against any
tree: ``--tree DIR`` (repeatable) runs every round once per tree, the trees alternated,
each in a child process with ``PYTHONPATH=DIR``; the ratio of each tree to the first is
taken round by round. Without ``--tree`` it times the ``sso_bridge`` it imports.

Usage: ``python bench/audit_append.py [--records 2000] [--rounds 5] [--tree OLD/src
--tree NEW/src]``. Last line: ``audit_append_us_sqlite=... audit_append_us_postgres=...``
(medians; of the last tree with ``--tree``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY = bytes(range(32))
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
POSTGRES_ENV = "SSO_BRIDGE_TEST_POSTGRES"


def _events(n: int) -> list[Any]:
    from sso_bridge.model import AuditAction, AuditEvent  # noqa: PLC0415 - the tree's own

    at = datetime.now(UTC)
    return [
        AuditEvent(
            AuditAction.LOGIN,
            at,
            f"login:pupil{i % 5000}",
            issuer="https://esia.gosuslugi.ru/",
            subject=str(1_000_000_000 + i),
            account_id=f"acc-{i % 5000}",
            ip=f"10.1.{i % 250}.{i % 200}",
            user_agent=UA,
        )
        for i in range(n)
    ]


def _time_appends(url: str, records: int, warmup: int) -> tuple[float, float]:
    from sso_bridge.store import open_store  # noqa: PLC0415

    store = open_store(url, KEY)
    try:
        for event in _events(warmup):
            store.record(event)
        events = _events(records)
        wall, cpu = time.perf_counter(), time.process_time()
        for event in events:
            store.record(event)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        store.close()
    return wall / records * 1e6, cpu / records * 1e6


def _postgres_round(base: str, records: int, warmup: int) -> tuple[float, float]:
    import psycopg  # noqa: PLC0415

    schema = "bench_" + secrets.token_hex(5)
    plain = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        url = base.replace("postgresql://", "postgresql+psycopg://", 1)
        sep = "&" if "?" in url else "?"
        return _time_appends(f"{url}{sep}options=-csearch_path%3D{schema}", records, warmup)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def one_round(records: int, warmup: int) -> dict[str, list[float]]:
    """One round in this process: {backend: [wall µs, CPU µs] per append}."""
    found: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        found["sqlite"] = list(_time_appends(f"sqlite:///{tmp}/bench.db", records, warmup))
    base = os.environ.get(POSTGRES_ENV)
    if base:
        found["postgres"] = list(_postgres_round(base, records, warmup))
    return found


def _child_round(tree: str, records: int, warmup: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
    args = [sys.executable, __file__, "--child", f"--records={records}", f"--warmup={warmup}"]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    data: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def _spread(values: list[float], digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", action="append", default=[])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_round(args.records, args.warmup)))
        return
    trees: list[str] = args.tree or [""]
    results: dict[str, list[dict[str, list[float]]]] = {t: [] for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            if tree:
                results[tree].append(_child_round(tree, args.records, args.warmup))
            else:
                results[tree].append(one_round(args.records, args.warmup))
    medians: dict[str, float] = {}
    for tree in trees:
        name = tree or "this tree"
        for backend in results[tree][0]:
            wall = [r[backend][0] for r in results[tree]]
            cpu = [r[backend][1] for r in results[tree]]
            print(f"{name} {backend}: µs/append wall {_spread(wall)}, CPU {_spread(cpu)}")
            medians[backend] = statistics.median(wall)
            if tree != trees[0]:
                first = results[trees[0]]
                ratios = [
                    r[backend][0] / f[backend][0] for r, f in zip(results[tree], first, strict=True)
                ]
                print(f"  {name} / {trees[0]} {backend} wall: {_spread(ratios, 2)}")
    print(" ".join(f"audit_append_us_{b}={v:.1f}" for b, v in medians.items()))


if __name__ == "__main__":
    main()
