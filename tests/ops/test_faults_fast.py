"""The four faults of bench/load.py, short: two instances of the FastAPI example on
PostgreSQL and Redis behind fault proxies, a small region, a second of store timeout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.fault_proxy import Mode
from helpers.load_client import People, Site
from helpers.load_cluster import POSTGRES_ENV, REDIS_ENV, Cluster, make_region
from helpers.load_faults import FaultResult, Faults, reconcile

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (os.environ.get(POSTGRES_ENV) and os.environ.get(REDIS_ENV)),
        reason=f"{POSTGRES_ENV} and {REDIS_ENV} are not both set: no stores to break",
    ),
]

HOLD, RECOVER = 2.0, 4.0


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    work: Path = tmp_path_factory.mktemp("faults")
    # enough people that the logins of all four faults never use up one TOTP step's worth
    people = make_region(work, 2000, 8000)
    with Cluster(work, people, store_timeout=1.0, redis_db=14) as cluster:
        site = Site([i.url for i in cluster.instances], timeout=15)
        yield Faults(cluster, site, People(people), clients=3)


def _held(result: FaultResult) -> None:
    print(result.report())  # the counts, shown with -s or on a failure
    assert result.held, result.report()


def test_kill_9_of_one_instance(faults: Faults) -> None:
    _held(faults.kill(HOLD, RECOVER))


def test_redis_down(faults: Faults) -> None:
    _held(faults.store_down("redis", Mode.REFUSE, HOLD, RECOVER))


def test_postgres_down(faults: Faults) -> None:
    _held(faults.store_down("postgres", Mode.REFUSE, HOLD, RECOVER))


def test_postgres_hanging(faults: Faults) -> None:
    _held(faults.store_down("postgres", Mode.HANG, HOLD, RECOVER))


def test_the_stores_reconcile_after_the_faults(faults: Faults) -> None:
    _held(reconcile(faults.cluster, faults.cut, faults.redis_cut))
