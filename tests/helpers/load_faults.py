"""The four faults under load, each with its expected outcome checked, and the
reconciliation of the stores afterwards. Shared by ``bench/load.py`` and ``tests/ops``.

A fault runs a load of logins and page requests (:func:`helpers.load_client.run_load`),
breaks one thing for ``hold`` seconds, repairs it, and keeps the load on for ``recover``
seconds. The checks name what they count, so a failed one says what went wrong.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from helpers.fault_proxy import Mode
from helpers.load_client import Browser, Outcome, People, Record, Site, run_load
from helpers.load_cluster import BIN, KEY_HEX, Cluster

__all__ = ["FAULTS", "FaultResult", "Faults", "reconcile"]

FAULTS = ("kill -9", "redis down", "postgres down", "postgres hanging")


@dataclass
class FaultResult:
    """The checks of one fault: (name, held, detail) each."""

    name: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))

    def report(self) -> str:
        lines = [f"{self.name}: {'held' if self.held else 'FAILED'}"]
        lines += [
            f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}" for name, ok, detail in self.checks
        ]
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def _clock(moment: float) -> str:
    """A ``time.monotonic()`` moment as Unix time (what the sessions in Redis carry)."""
    return f"{time.time() - (time.monotonic() - moment):.1f}"


def _within(records: list[Record], start: float, end: float) -> list[Record]:
    return [r for r in records if r.started >= start and r.started + r.seconds <= end]


def _trails(records: Iterable[Record], most: int = 3) -> str:
    """The site's answers to the first ``most`` of ``records``."""
    shown = ["; ".join(r.trail) for r in itertools.islice(records, most)]
    return "".join(f"\n      [{trail}]" for trail in shown)


def _summary(records: list[Record]) -> str:
    statuses = Counter(s for r in records for s in r.statuses)
    codes = Counter(c for r in records for c in r.codes)
    errors = Counter(r.error for r in records if r.error)
    return f"statuses {dict(statuses)} codes {dict(codes)} transport errors {dict(errors)}"


class Faults:
    """Runs the faults against ``cluster`` with ``clients`` browsers at a time."""

    def __init__(self, cluster: Cluster, site: Site, people: People, *, clients: int = 4) -> None:
        self.cluster = cluster
        self.site = site
        self.people = people
        self.clients = clients
        self.limit = cluster.store_timeout + 1.0
        self.cut: Counter[str] = Counter()
        """Accounts of the logins a kill -9 cut (a request taken and never answered)."""
        self.redis_cut: list[float] = []
        """When Redis went down (Unix time): a session written just then may have been
        stored while its answer was lost, so the login failed and its token never left."""

    def signed_in(self, count: int) -> list[Browser]:
        """``count`` browsers with a session (made before the fault)."""
        browsers: list[Browser] = []
        while len(browsers) < count:
            person = self.people.take(time.monotonic() + 35)
            if person is None:
                raise RuntimeError("no person is free to log in")
            browser = Browser(self.site, self.cluster.idp_url)
            if browser.login(person).ok:
                browsers.append(browser)
            else:
                browser.close()
        return browsers

    def _under_load(
        self,
        pagers: list[Browser],
        hold: float,
        recover: float,
        breaks: Callable[[], None],
        repairs: Callable[[], None],
    ) -> tuple[Outcome, float, float]:
        """Logins and pages for 1 s, ``breaks``, ``hold`` s, ``repairs``, ``recover`` s,
        while ``pagers`` (signed in before) keep asking for the page; the outcome of both
        loads and the monotonic times of the break and of the repair."""
        found: list[Outcome] = []
        seconds = 1 + hold + recover

        def logins() -> None:
            found.append(
                run_load(
                    self.site,
                    self.cluster.idp_url,
                    self.people,
                    clients=self.clients,
                    seconds=seconds,
                )
            )

        def pages() -> None:
            found.append(
                run_load(
                    self.site,
                    self.cluster.idp_url,
                    self.people,
                    clients=len(pagers),
                    seconds=seconds,
                    browsers=pagers,
                    pages_per_login=0,
                )
            )

        loads = [threading.Thread(target=logins), threading.Thread(target=pages)]
        for load in loads:
            load.start()
        time.sleep(1)
        broke = time.monotonic()
        breaks()
        time.sleep(hold)
        repaired = time.monotonic()
        repairs()
        for load in loads:
            load.join()
        return (
            Outcome(found[0].records + found[1].records, max(o.seconds for o in found)),
            broke,
            repaired,
        )

    def _common(self, result: FaultResult, outcome: Outcome, tracebacks: int) -> None:
        fives = outcome.statuses(500)
        result.check("no 500", fives == 0, f"{fives} answers were 500")
        slowest = max(outcome.records, key=lambda r: r.slowest, default=None)
        took = slowest.slowest if slowest is not None else 0.0
        what = slowest.slowest_what if slowest is not None else ""
        result.check(
            "no request waits longer than the timeout + 1 s",
            took <= self.limit,
            f"slowest {took:.2f} s ({what}), limit {self.limit:.1f} s",
        )
        new = self.cluster.tracebacks() - tracebacks
        result.check("no traceback logged", new == 0, f"{new} tracebacks in the instances' logs")

    def _recovered(self, result: FaultResult, outcome: Outcome, since: float) -> None:
        after = [r for r in outcome.records if r.started >= since]
        logins = [r for r in after if r.kind == "login" and not r.person_outcome]
        ok = sum(r.ok for r in logins)
        result.check(
            "logins succeed after the repair, without a restart",
            bool(logins) and ok == len(logins),
            f"{ok}/{len(logins)} logins; {_summary(after)}",
        )

    def kill(self, hold: float, recover: float) -> FaultResult:
        """kill -9 of instance 0: logins begun on it finish on another, sessions live on."""
        result = FaultResult("kill -9")
        before = self.signed_in(4)
        tracebacks = self.cluster.tracebacks()
        outcome, broke, _ = self._under_load(
            before[:2], hold, recover, lambda: self.cluster.kill(0), lambda: None
        )
        logins = outcome.of("login")
        spanning = [
            r
            for r in logins
            if r.first_instance == 0 and r.started < broke < r.started + r.seconds and not r.again
        ]
        # a request that the killed instance took and never answered may have used the
        # login's single-use step or state: that login is refused once, and started again
        cut = [r for r in logins if 0 in r.lost_on and not r.again]
        whole = [r for r in spanning if 0 not in r.lost_on]
        ok = sum(r.ok for r in whole)
        result.check(
            "logins begun on the killed instance finish on the other",
            ok == len(whole),
            f"{ok}/{len(whole)} whose requests all reached a live instance; "
            f"{_summary(whole)}{_trails(r for r in whole if not r.ok)}",
        )
        self.cut.update(r.account for r in cut if r.account)
        result.notes.append(f"broken at {_clock(broke)}")
        refused = [r for r in cut if not r.ok]
        again = [r for r in logins if r.again]
        # started again, a person whom the region's data refuses (no account matches, ...)
        # gets that answer, as on any login: the fault changed nothing for them
        answered = [r for r in again if r.ok or r.person_outcome]
        failed = [r for r in again if not (r.ok or r.person_outcome)]
        fives = sum(s >= 500 for r in refused for s in r.statuses)
        result.check(
            "a login cut inside the killed instance is refused once, then succeeds",
            fives == 0 and len(again) == len(refused) and not failed,
            f"{len(cut)} logins had a request die inside it: {len(cut) - len(refused)} finished"
            f" anyway, {len(refused)} refused ({_summary(refused)}), {len(answered)}/{len(again)}"
            f" answered when started again ({_summary(again)}){_trails(refused)}"
            f"{_trails(failed)}",
        )
        valid = sum(b.page().ok for b in before)
        result.check("its sessions stay valid", valid == len(before), f"{valid}/{len(before)}")
        self._recovered(result, outcome, broke)
        self._common(result, outcome, tracebacks)
        self.cluster.start_instance(0)
        self.site.revive(0)
        for browser in before:
            browser.close()
        return result

    def store_down(self, which: str, mode: Mode, hold: float, recover: float) -> FaultResult:
        """The store ``which`` (``redis`` or ``postgres``) refuses or hangs."""
        name = {"redis": "redis", "postgres": "postgres"}[which]
        result = FaultResult(f"{name} {'down' if mode is Mode.REFUSE else 'hanging'}")
        proxy = self.cluster.redis if which == "redis" else self.cluster.postgres
        before = self.signed_in(2)
        tracebacks = self.cluster.tracebacks()
        outcome, broke, repaired = self._under_load(
            before, hold, recover, lambda: proxy.set_mode(mode), lambda: proxy.set_mode(Mode.PASS)
        )
        result.notes.append(f"broken at {_clock(broke)}, repaired at {_clock(repaired)}")
        if which == "redis":
            self.redis_cut.append(float(_clock(broke)))
        during = _within(outcome.records, broke + 0.05, repaired)
        refusals = [c for r in during for c in r.codes]
        unexpected = [c for c in refusals if c != "store.unavailable"]
        pages = [r for r in during if r.kind == "page"]
        if which == "redis":
            accepted = sum(r.ok for r in pages)
            result.check(
                "no session accepted unchecked",
                accepted == 0,
                f"{accepted}/{len(pages)} page requests answered 200 with Redis down",
            )
            result.check(
                "refusals are 503 store.unavailable",
                bool(refusals) and not unexpected and outcome.statuses(503) > 0,
                f"{len(refusals)} refusals, other codes {dict(Counter(unexpected))}",
            )
        else:
            result.check(
                "refusals are 503 store.unavailable",
                not unexpected,
                f"{len(refusals)} refusals, other codes {dict(Counter(unexpected))}",
            )
            if mode is Mode.HANG:
                ok = sum(r.ok for r in pages)
                result.check(
                    "requests needing only Redis keep answering",
                    bool(pages) and ok == len(pages),
                    f"{ok}/{len(pages)} page requests answered 200; {_summary(pages)}",
                )
        valid = sum(b.page().ok for b in before)
        result.check(
            "sessions from before are valid after", valid == len(before), f"{valid}/{len(before)}"
        )
        self._recovered(result, outcome, repaired + self.limit)
        self._common(result, outcome, tracebacks)
        for browser in before:
            browser.close()
        return result

    def all(self, hold: float, recover: float, hang: float | None = None) -> list[FaultResult]:
        """The four faults in turn."""
        return [
            self.kill(hold, recover),
            self.store_down("redis", Mode.REFUSE, hold, recover),
            self.store_down("postgres", Mode.REFUSE, hold, recover),
            self.store_down("postgres", Mode.HANG, hang or hold, recover),
        ]


def reconcile(
    cluster: Cluster, cut: Counter[str] | None = None, redis_cut: list[float] | None = None
) -> FaultResult:
    """After the faults: the audit chain verifies, each link has its audit record, no
    duplicate links, each session in Redis has a login record; the counts printed.

    A login cut by kill -9 after its session was made and before its records were
    written leaves a session whose token never left the instance (unreachable; it lapses
    with its lifetime): ``cut`` counts such logins by account, and only those accounts
    may have a session without a record, at most one per cut login. So may a session
    made within half a second before one of the moments ``redis_cut`` when Redis went
    down (its write done, its answer lost: the login failed).
    """
    cut = cut or Counter()
    cuts = redis_cut or []
    result = FaultResult("reconcile")
    verify = subprocess.run(
        [str(BIN / "sso-bridge"), "audit", "verify", "--json", "--db", cluster.direct_db_url()],
        env={"SSO_BRIDGE_KEY": KEY_HEX, "PATH": str(BIN)},
        capture_output=True,
        text=True,
        check=False,
    )
    result.check(
        "audit chain verifies", verify.returncode == 0, (verify.stdout or verify.stderr)[:300]
    )
    engine = sa.create_engine(cluster.direct_db_url())
    try:
        with engine.connect() as conn:
            links = conn.execute(sa.text("SELECT count(*) FROM links")).scalar_one()
            unaudited = conn.execute(
                sa.text(
                    "SELECT count(*) FROM links l WHERE NOT EXISTS (SELECT 1 FROM audit a"
                    " WHERE a.action = 'link' AND a.issuer = l.issuer AND a.subject = l.subject"
                    " AND a.account_id = l.account_id)"
                )
            ).scalar_one()
            duplicates = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT issuer, subject, account_id FROM links"
                    " GROUP BY issuer, subject, account_id HAVING count(*) > 1) d"
                )
            ).scalar_one()
            rows = conn.execute(
                sa.text("SELECT account_id, count(*) FROM audit WHERE action = 'login' GROUP BY 1")
            )
            logins = {account: count for account, count in rows}
    finally:
        engine.dispose()
    sessions = _sessions_by_account(cluster)
    extra = {
        a: len(made) - logins.get(a, 0)
        for a, made in sessions.items()
        if len(made) > logins.get(a, 0)
    }
    orphans = sum(extra.values())
    by_kill = sum(min(n, cut[a]) for a, n in extra.items())
    by_redis = sum(
        min(n - min(n, cut[a]), sum(_near(made / 1e6, cuts) for made, _ in sessions[a]))
        for a, n in extra.items()
    )
    unexplained = orphans - by_kill - by_redis
    result.check(
        "every link has its audit record", unaudited == 0, f"{links} links, {unaudited} without"
    )
    result.check("no duplicate links", duplicates == 0, f"{duplicates} duplicated")
    result.check(
        "every session in Redis has a login record, but for logins the kill cut",
        unexplained == 0,
        f"{sum(map(len, sessions.values()))} sessions, {sum(logins.values())} login records,"
        f" {orphans} sessions without one: {by_kill} of a login cut by kill -9"
        f" ({sum(cut.values())} such logins), {by_redis} made as Redis went down,"
        f" {unexplained} unexplained; accounts with more sessions than"
        f" records: { {a: sessions[a] for a in itertools.islice(extra, 5)} }",
    )
    return result


def _near(made: float, cuts: list[float]) -> bool:
    return any(cut - 0.5 <= made <= cut + 0.05 for cut in cuts)


def _sessions_by_account(cluster: Cluster) -> dict[str, list[tuple[int, str]]]:
    """Live sessions in the run's Redis database by account (the entry's owner): the
    time each was made (Unix seconds) and its address."""
    client = cluster.redis_client()
    found: dict[str, list[tuple[int, str]]] = {}
    for key in client.scan_iter(match=b"sso:session:*", count=1000):
        value = client.get(key)
        if value is None or len(value) < 20:
            continue
        size = int(value[16:20], 16)
        row = json.loads(bytes(value[20 + size :]))
        found.setdefault(bytes(value[20 : 20 + size]).decode(), []).append((row[7], row[5]))
    return found


def as_json(results: list[FaultResult]) -> str:
    return json.dumps([{"name": r.name, "held": r.held, "checks": r.checks} for r in results])
