"""Benchmark: the broker's CPU over HTTP, per request, against the same work in process.

One instance of the FastAPI integration example (the load runs' cluster: PostgreSQL and
Redis through their fault proxies, the mock IdP with a small region) is asked, in turn
and in rounds, for:

* ``/bare``: the page of ``/grades`` without the session check;
* ``/grades`` with a session (the check: cookies, browser id, session, CSRF token);
* a full OIDC login (``/auth/login/esia`` -> the IdP's pages -> the callback -> the chooser
  when the person has several accounts -> ``/grades``) of a person who logged in before
  (linked already, as in the in-process login), and apart from the rounds, the first
  login of each person (matching and the new link on top).

Figures are the instance process's user + system CPU (``/proc/PID/stat``) divided by the
requests (logins) of the round; the in-process login (bench/broker_logins.py's
``HttpLogin``: ``begin_federated`` and ``finish`` with the IdP over loopback HTTP) runs in
the same rounds. Ratios are taken round by round; min / median / max over the rounds.

With ``--baseline DIR`` (a folder holding another version of the ``sso_bridge`` package,
say ``git archive`` of an older commit) a second instance runs that version, and its
``/bare`` and ``/grades`` are measured in the same rounds (``baseline`` rows).

With ``--profile FILE`` the instance profiles one more round of each kind with yappi (CPU
clock, every thread) and writes its top functions to ``FILE.<kind>``.

Usage: ``python bench/http_path.py [--rounds 5] [--pages 1500] [--logins 60]``. Last line:
``page_over_bare=... http_login_over_inprocess=... page_ms=... bare_ms=... login_ms=...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent.resolve()
# bench/mock_idp.py is named like the package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "examples"), str(ROOT)]

import httpx  # noqa: E402

from helpers.load_client import Browser, People, Site  # noqa: E402
from helpers.load_cluster import Cluster, Instance, make_region  # noqa: E402

PROFILE_ENV = "SSO_BRIDGE_BENCH_PROFILE"


def _sibling(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench/{name}.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# at import, so that the IdP process spawned by HttpLogin finds the module too
logins_module = _sibling("broker_logins")


def spread(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low * scale:8.3f} / {mid * scale:8.3f} / {high * scale:8.3f} {unit}"


def per_call(instance: Instance, count: int, call: Callable[[], bool]) -> float:
    """The instance's CPU seconds per call of ``call``; a few may fail (a TOTP code that
    crossed into the next step), more than one in ten stops the run."""
    before = instance.cpu_seconds()
    failed = sum(not call() for _ in range(count))
    if failed * 10 > count:
        raise SystemExit(f"{failed} of {count} calls failed: see the instance log")
    return (instance.cpu_seconds() - before) / count


class BenchCluster(Cluster):
    """The load runs' cluster whose second instance, if any, imports ``sso_bridge`` from
    ``baseline`` first."""

    def __init__(self, *args: object, baseline: str | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.baseline = baseline
        self._starting = 0

    def start_instance(self, index: int) -> None:
        self._starting = index
        super().start_instance(index)

    def instance_env(self) -> dict[str, str]:
        env = super().instance_env()
        if self._starting == 1 and self.baseline:
            env["PYTHONPATH"] = os.pathsep.join([self.baseline, env["PYTHONPATH"]])
        return env


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=1500, help="page requests per round")
    parser.add_argument("--logins", type=int, default=40, help="logins per round")
    parser.add_argument("--baseline", help="a folder with another sso_bridge to compare")
    parser.add_argument("--profile", help="also profile one round, into FILE.<kind>")
    return parser.parse_args(argv)


def _profile(url: str, out: str, kinds: dict[str, tuple[int, Callable[[], bool]]]) -> None:
    """One more round of each kind, profiled by the instance at ``url``."""
    for kind, (count, call) in kinds.items():
        httpx.post(url + "/_profile/start", timeout=30)
        failed = sum(not call() for _ in range(count))
        httpx.post(url + "/_profile/stop", timeout=60)
        Path(f"{out}.{kind}").write_text(Path(out).read_text())
        print(f"profiled {count} {kind} ({failed} failed) into {out}.{kind}")


def _report(rows: dict[str, list[float]], first: float) -> None:
    over_bare = [p / b for p, b in zip(rows["page"], rows["bare"], strict=True)]
    over_inproc = [h / i for h, i in zip(rows["login"], rows["inproc"], strict=True)]
    print(f"CPU per /bare              {spread(rows['bare'])}")
    print(f"CPU per /grades (session)  {spread(rows['page'])}")
    if rows["base_bare"]:
        base_over = [p / b for p, b in zip(rows["base_page"], rows["base_bare"], strict=True)]
        print(f"baseline: CPU per /bare    {spread(rows['base_bare'])}")
        print(f"baseline: CPU per /grades  {spread(rows['base_page'])}")
        print(f"baseline: /grades over /bare {spread(base_over, 1, 'x')}")
    print(f"CPU per login over HTTP    {spread(rows['login'])}")
    print(f"CPU per first login (HTTP) {spread([first])}")
    print(f"CPU per login in process   {spread(rows['inproc'])}")
    print(f"/grades over /bare         {spread(over_bare, 1, 'x')}")
    print(f"HTTP login over in process {spread(over_inproc, 1, 'x')}")
    print(
        f"page_over_bare={statistics.median(over_bare):.2f}"
        f" http_login_over_inprocess={statistics.median(over_inproc):.2f}"
        f" page_ms={statistics.median(rows['page']) * 1000:.3f}"
        f" bare_ms={statistics.median(rows['bare']) * 1000:.3f}"
        f" login_ms={statistics.median(rows['login']) * 1000:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    if args.profile:
        os.environ[PROFILE_ENV] = str(Path(args.profile).resolve())
    # every login takes a person whose TOTP step is unused (one login per person per 30 s)
    needed = args.logins * 3
    with tempfile.TemporaryDirectory(prefix="sso-http-") as tmp:
        work = Path(tmp)
        people = make_region(work, needed, needed * 3)
        in_process = logins_module.HttpLogin(work)
        count = 2 if args.baseline else 1
        cluster = BenchCluster(
            work,
            people,
            instances=count,
            redis_db=5,
            app="bench.http_app:app",
            baseline=args.baseline and str(Path(args.baseline).resolve()),
        )
        with cluster:
            instance = cluster.instances[0]
            site = Site([instance.url])
            browser = Browser(site, cluster.idp_url)
            # the first login of each person (some are refused for what they are: no
            # account matches...); those who got in log in again in the rounds
            before = instance.cpu_seconds()
            linked = [p for p in people if browser.login(p).ok]
            first = (instance.cpu_seconds() - before) / len(people)
            print(f"{len(linked)} of {len(people)} people logged in", flush=True)
            pool = People(linked)

            def login() -> bool:
                person = pool.take(time.monotonic() + 60)
                return person is not None and browser.login(person).ok

            def page(path: str, base: bool = False) -> Callable[[], bool]:
                if base:  # the same browser's cookies, to the baseline instance
                    url = cluster.instances[1].url + path
                    cookie = "; ".join(f"{k}={v}" for k, v in browser.jar.items())
                    headers = {"Cookie": cookie, "X-Forwarded-For": browser.address}
                    return lambda: browser.http.get(url, headers=headers).status_code == 200
                return lambda: browser.site_request("GET", path).status_code == 200

            time.sleep(30 - time.time() % 30)  # a new TOTP step: everyone may log in again
            login()  # signed in for the pages
            per_call(instance, 200, page("/grades"))
            per_call(instance, 200, page("/bare"))
            rows: dict[str, list[float]] = {"bare": [], "page": [], "login": [], "inproc": []}
            rows.update(base_bare=[], base_page=[])
            for _ in range(args.rounds):
                rows["bare"].append(per_call(instance, args.pages, page("/bare")))
                rows["page"].append(per_call(instance, args.pages, page("/grades")))
                if args.baseline:
                    other = cluster.instances[1]
                    rows["base_bare"].append(per_call(other, args.pages, page("/bare", True)))
                    rows["base_page"].append(per_call(other, args.pages, page("/grades", True)))
                rows["login"].append(per_call(instance, args.logins, login))
                login()  # the browser stays signed in for the next round's pages
                cpu = [in_process.once() for _ in range(args.logins)]
                rows["inproc"].append(statistics.median(cpu))
            if args.profile:
                pages = args.pages
                kinds = {"bare": (pages, page("/bare")), "page": (pages, page("/grades"))}
                _profile(instance.url, args.profile, {**kinds, "login": (args.logins, login)})
            browser.close()
        in_process.close()
    _report(rows, first)


if __name__ == "__main__":
    main()
