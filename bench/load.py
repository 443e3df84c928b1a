"""Load and faults: two instances of the FastAPI integration example on PostgreSQL and
Redis (through fault proxies), the mock IdP with a region of people, full HTTP logins and
authenticated page requests at 1, 8 and 32 clients, then kill -9, Redis down, PostgreSQL
down and PostgreSQL hanging under load, each checked, and the stores reconciled.

Every person logs in once first (their first login: matching, the chooser, the new link;
its CPU is printed), so that the steps time the same login as the in-process figure, a
person's return; the in-process login runs right after the steps. Each step also times
the page without any check (``/bare``) and behind a hand-written one (``/peer``: one GET
with redis.asyncio, the address compared; tests/helpers/load_app.py).

The stores are the local ones or those ``SSO_BRIDGE_TEST_POSTGRES`` /
``SSO_BRIDGE_TEST_REDIS`` name; the run uses its own database (dropped afterwards) and
Redis database 12 (flushed). Last line: ``logins_per_s=... login_p99_ms=...
validations_per_s=... faults_held=N/4 http_login_over_inprocess=... validation_over_bare=...``

Usage: ``python bench/load.py [--people 4000] [--duration 10] [--clients 1,8,32] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/mock_idp.py is named like the package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "examples")]

from helpers.load_client import Browser, People, Site, run_load  # noqa: E402
from helpers.load_cluster import KEY_HEX, Cluster, LoadPerson, make_region  # noqa: E402
from helpers.load_faults import Faults, reconcile  # noqa: E402
from helpers.load_peer import PEER_COOKIE, peer_key  # noqa: E402
from mock_idp.control import MockIdP  # noqa: E402
from sso_bridge.broker import Broker, ChooseAccount, LoggedIn, OidcProvider  # noqa: E402
from sso_bridge.errors import BridgeError  # noqa: E402
from sso_bridge.mfa import OutboxSender  # noqa: E402
from sso_bridge.oidc import JwksCache, RelyingParty, discover  # noqa: E402
from sso_bridge.store import open_ephemeral_store, open_store  # noqa: E402
from sso_bridge.store.adapters import EphemeralStateStore  # noqa: E402
from sso_bridge.store.sql_credentials import SqlCredentialStore  # noqa: E402

STORE_TIMEOUT = 2.0
"""The configured timeout: the longest a request waits for the database (and Redis)."""


def _cpu(cluster: Cluster) -> float:
    return sum(i.cpu_seconds() for i in cluster.instances)


def _broker_logins() -> ModuleType:
    """bench/broker_logins.py, loaded by path (this folder is kept off the import path)."""
    spec = importlib.util.spec_from_file_location(
        "broker_logins", ROOT / "bench" / "broker_logins.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit("bench/broker_logins.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SameLogin:
    """The login the instances serve, in this process: a broker built as the FastAPI
    example builds it (the run's PostgreSQL database and Redis, straight, not through the
    fault proxies; SQL credentials; the OIDC state and JWKS cache in Redis), the same
    region's people, and the same steps: begin, finish, the chooser's answer when it is
    shown, then one page's session check. The IdP's answers are served in process and its
    CPU left out, as bench/broker.py does."""

    def __init__(self, cluster: Cluster, people: Sequence[LoadPerson]) -> None:
        logins = self._logins = _broker_logins()
        self.idp = MockIdP.from_config(cluster.work / "idp.json", logins.BASE)
        self.idp.add_client(dict(logins.MOCK_CLIENT))
        self.http = logins.IdpInProcess(self.idp)
        key = bytes.fromhex(KEY_HEX)
        self.db = open_store(cluster.direct_db_url(), key)
        pool = cluster.redis_client().connection_pool.connection_kwargs
        self.temp = open_ephemeral_store(
            f"redis://{pool.get('host', '127.0.0.1')}:{pool.get('port', 6379)}/{cluster.redis_db}"
        )
        config = discover(
            self.http,
            self.idp.issuer,
            client_id=logins.MOCK_CLIENT["client_id"],
            redirect_uri=logins.CALLBACK,
            algorithms=("RS256",),
            client_secret=logins.MOCK_CLIENT["secret"],
            scopes=logins.SCOPES,
        )
        jwks = JwksCache(self.http, config.jwks_uri, config.algorithms, store=self.temp)
        state = EphemeralStateStore(self.temp)
        self.rp = RelyingParty(config, self.http, state_store=state, jwks=jwks)
        self.broker = Broker(
            directory=self.db,
            links=self.db,
            audit=self.db,
            store=self.temp,
            credentials=SqlCredentialStore(self.db.engine, key),
            sender=OutboxSender(),
            secret=key,
            providers=[OidcProvider("esia", self.rp)],
        )
        self.people = list(people)
        self.rng = random.Random(7)

    def once(self) -> float:
        """The broker CPU of one login of a person picked at random, in seconds; a person
        the broker refuses (no account matches, or one needs a second factor the region
        does not give) is left out, as the load counts only the logins that end in a page."""
        while True:
            person = self.rng.choice(self.people)
            try:
                return self._login(person)
            except BridgeError:
                self.people.remove(person)

    def _login(self, person: LoadPerson) -> float:
        logins, broker = self._logins, self.broker
        self.http.idp_cpu = 0.0
        client = logins._client()
        start = time.thread_time()
        redirect = broker.begin_federated("esia", client)
        middle = time.thread_time()
        asked, state = logins._code_request(redirect.url, self.rp.config.scopes)
        code = self.idp.authorization_code(logins.MOCK_CLIENT["client_id"], person.oid, **asked)
        params = {"code": code, "state": state, "iss": self.idp.issuer}
        resume = time.thread_time()
        result = broker.finish("esia", params, client)
        if isinstance(result, ChooseAccount):
            result = broker.choose(result.step_id, result.options[0].account_id, client)
        if not isinstance(result, LoggedIn):
            raise SystemExit(f"the login did not end in a session: {result!r}")
        broker.authenticate(result.token, client)
        end = time.thread_time()
        return (middle - start) + (end - resume) - self.http.idp_cpu

    def close(self) -> None:
        self.temp.close()
        self.db.close()


def inprocess_login_ms(
    cluster: Cluster, people: Sequence[LoadPerson], rounds: int = 5, logins: int = 100
) -> list[float]:
    """The broker CPU of the instances' login in this process (:class:`SameLogin`): the
    median of each of ``rounds`` rounds, in ms."""
    login = SameLogin(cluster, people)
    try:
        for _ in range(20):
            login.once()
        return [
            statistics.median(login.once() for _ in range(logins)) * 1000 for _ in range(rounds)
        ]
    finally:
        login.close()


def peer_sessions(cluster: Cluster, browsers: list[Browser]) -> None:
    """A session of the hand-written check (``/peer``, tests/helpers/load_app.py) for each
    of ``browsers``, from its own address."""
    client = cluster.redis_client()
    for browser in browsers:
        token = secrets.token_urlsafe(32)
        value = json.dumps({"account_id": "peer", "ip": browser.address})
        client.set(peer_key(token), value, ex=3600)
        browser.jar[PEER_COOKIE] = token


def first_logins(cluster: Cluster, site: Site, pool: People, count: int) -> float:
    """Every person of the region logs in once, 8 at a time, so that the load steps time
    the login of people who have logged in before, as the in-process figure does; the
    instances' CPU per first login, in ms."""
    pool.left = count
    before = _cpu(cluster)
    try:
        outcome = run_load(site, cluster.idp_url, pool, clients=8, seconds=count, pages_per_login=0)
    finally:
        pool.left = None
    done = sum(r.ok for r in outcome.of("login"))
    ms = (_cpu(cluster) - before) / max(done, 1) * 1000
    took = outcome.seconds
    print(f"first logins: {done} of {count} people in {took:.0f} s, {ms:.2f} ms of CPU each")
    return ms


class Steps:
    """The load steps: at each number of clients, logins, then pages with the session
    check, without any (``/bare``) and with the hand-written one (``/peer``); the instances'
    CPU of each."""

    def __init__(self, cluster: Cluster, site: Site, pool: People, seconds: float) -> None:
        self.cluster, self.site, self.pool, self.seconds = cluster, site, pool, seconds
        self.best = (0.0, float("nan"), 0.0)
        self.login_cpu: list[float] = []
        self.page_cpu: list[float] = []
        self.bare_cpu: list[float] = []
        self.peer_cpu: list[float] = []

    def _load(self, clients: int, browsers: list[Browser] | None, path: str) -> tuple[Any, float]:
        before = _cpu(self.cluster)
        outcome = run_load(
            self.site,
            self.cluster.idp_url,
            self.pool,
            clients=clients,
            seconds=self.seconds,
            browsers=browsers,
            pages_per_login=0,
            path=path,
        )
        return outcome, _cpu(self.cluster) - before

    def step(self, clients: int) -> None:
        logins, cpu = self._load(clients, None, "/grades")
        self.login_cpu.append(cpu / max(sum(r.ok for r in logins.of("login")), 1))
        browsers = Faults(self.cluster, self.site, self.pool).signed_in(min(clients, 8))
        peer_sessions(self.cluster, browsers)
        pages, cpu = self._load(clients, browsers, "/grades")
        self.page_cpu.append(cpu / max(len(pages.records), 1))
        bare, cpu = self._load(clients, browsers, "/bare")
        self.bare_cpu.append(cpu / max(len(bare.records), 1))
        peer, cpu = self._load(clients, browsers, "/peer")
        if not all(r.ok for r in peer.records):
            raise SystemExit("the hand-written check refused a page it should serve")
        self.peer_cpu.append(cpu / max(len(peer.records), 1))
        for browser in browsers:
            browser.close()
        rate, p99 = logins.rate("login"), logins.percentile_ms("login", 99)
        print(
            f"{clients:3d} clients: {rate:7.1f} logins/s"
            f" p50 {logins.percentile_ms('login', 50):7.1f} ms"
            f" p99 {p99:7.1f} ms, {pages.rate('page'):8.1f} validations/s;"
            f" CPU per login {self.login_cpu[-1] * 1000:.2f} ms,"
            f" per page {self.page_cpu[-1] * 1000:.3f} ms,"
            f" per bare page {self.bare_cpu[-1] * 1000:.3f} ms, with the hand-written check"
            f" {self.peer_cpu[-1] * 1000:.3f} ms; refusals {logins.codes()}"
        )
        if rate > self.best[0]:
            self.best = (rate, p99, pages.rate("page"))

    def report_pages(self) -> float:
        """Print the pages' ratios; the least of the steps' ratios of the page with the
        session check to the bare page."""
        pairs = list(zip(self.page_cpu, self.bare_cpu, self.peer_cpu, strict=True))
        over_bare = min(p / b for p, b, _ in pairs if b > 0)
        peer_over_bare = min(q / b for _, b, q in pairs if b > 0)
        over_peer = ", ".join(f"{p / q:.2f}" for p, _, q in pairs if q > 0)
        print(
            f"the page with the session check over the bare page: {over_bare:.2f} (least of"
            f" the steps); with the hand-written check: {peer_over_bare:.2f}; the session"
            f" check's page over the hand-written check's, step by step: {over_peer}"
        )
        return over_bare


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load step")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--quick", action="store_true", help="small region, short steps")
    args = parser.parse_args(argv)
    people_count, duration = args.people, args.duration
    if args.quick:
        # each person logs in once per TOTP step (30 s): enough of them for the faults
        people_count, duration = min(people_count, 1000), min(duration, 3.0)
    steps = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="sso-load-") as tmp:
        work = Path(tmp)
        people = make_region(work, people_count, people_count * 6)
        print(f"region: {len(people)} people at the IdP, {people_count * 6} accounts")
        with Cluster(work, people, store_timeout=STORE_TIMEOUT, redis_db=12) as cluster:
            ready = [cluster.ready(i) for i in range(len(cluster.instances))]
            print(
                f"instances ready (/auth/readyz): {ready}; a request waits for a store"
                f" {STORE_TIMEOUT:g} s at most, checked against {STORE_TIMEOUT + 1:g} s"
            )
            site = Site([i.url for i in cluster.instances])
            pool = People(people)
            first_ms = first_logins(cluster, site, pool, len(people))
            figures = Steps(cluster, site, pool, duration)
            for clients in steps:
                figures.step(clients)
            # the login in process right after the steps, on the same machine state
            inprocess = inprocess_login_ms(cluster, people)
            faults = Faults(cluster, site, pool, clients=4)
            hold = 3.0 if args.quick else 10.0
            results = faults.all(hold, 5.0, hang=5.0 if args.quick else 30.0)
            results.append(reconcile(cluster, faults.cut, faults.redis_cut))
            for result in results:
                print(result.report())
    held = sum(r.held for r in results[:4])
    over_bare = figures.report_pages()
    http_ms, local_ms = min(figures.login_cpu) * 1000, statistics.median(inprocess)
    print(
        f"broker CPU per login: over HTTP {http_ms:.2f} ms (the instances' CPU per end-to-end"
        " login of a person who logged in before: start, callback, the chooser's answer, page;"
        f" least of the steps), in process min/median/max {min(inprocess):.2f}/{local_ms:.2f}"
        f"/{max(inprocess):.2f} ms (the same login: begin, finish, the chooser's answer, one"
        " page's check; the instances' PostgreSQL and Redis); a person's first login over"
        f" HTTP (matching, the chooser, the new link and its record) {first_ms:.2f} ms"
    )
    rate, p99, pages = figures.best
    print(
        f"logins_per_s={rate:.1f} login_p99_ms={p99:.0f} validations_per_s={pages:.0f}"
        f" faults_held={held}/4 http_login_over_inprocess={http_ms / local_ms:.2f}"
        f" validation_over_bare={over_bare:.2f}"
    )


if __name__ == "__main__":
    main()
