"""The clients of the load and fault runs: a round-robin balancer in front of the
instances, browsers that log in through the mock IdP's own pages, and a load of such
browsers in threads that records every answer.

A login is what a person does: the site's "log in with ESIA" (a redirect), the IdP's
login form, its TOTP code page, back to the site's callback (the chooser when the person
has several accounts: the first is taken), then the protected page. Each request to the
site goes to the next live instance; an instance that refuses the connection is skipped
(a balancer's health check) until :meth:`Site.revive`. A login whose request an instance
took and died with is started again once, by the same person in the same browser.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from helpers.load_cluster import LoadPerson
from sso_bridge.mfa.otp import decode_secret, totp

__all__ = ["Browser", "Outcome", "People", "Record", "Site", "run_load"]

_FIELD = re.compile(r'name="(txn|step_id|account)" value="([^"]*)"')
_CODE_LEEWAY = 5.0
"""Seconds before a TOTP step ends within which a login may reach the IdP's code form in
the next step."""
PERSON_OUTCOMES = frozenset({"broker.no_match", "broker.no_second_factor"})
"""Refusals that the region's data causes for some people, whatever the stores do."""
_CODE = re.compile(r'class="meta">[^<]*?([a-z_]+\.[a-z_.]+)')


class Site:
    """The instances behind one address, taken in turn."""

    def __init__(self, urls: list[str], timeout: float = 30) -> None:
        self.urls = urls
        self.down: set[int] = set()
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.timeout = timeout

    def revive(self, index: int) -> None:
        with self._lock:
            self.down.discard(index)

    def pick(self) -> int:
        with self._lock:
            for _ in self.urls:
                index = next(self._turn) % len(self.urls)
                if index not in self.down:
                    return index
        raise httpx.ConnectError("every instance is down")

    def mark_down(self, index: int) -> None:
        with self._lock:
            self.down.add(index)


@dataclass
class Record:
    """What one login or page request met: ``kind`` ``login`` or ``page``."""

    kind: str
    started: float
    seconds: float = 0.0
    ok: bool = False
    statuses: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    first_instance: int = -1
    slowest: float = 0.0
    """The longest single request of the record (seconds)..."""
    slowest_what: str = ""
    """... and which it was."""
    error: str = ""
    code_sent: bool = False
    """Whether the login got as far as sending a TOTP code to the IdP."""
    person_outcome: bool = False
    """A login refused for what the person is (no account matches, ...), not a fault."""
    lost_on: list[int] = field(default_factory=list)
    """Instances that took a request of this record and died without answering it."""
    again: bool = False
    """A login started again after one whose request died inside an instance."""
    account: str = ""
    """The account a login ended in (the protected page says), or that its start again did."""
    trail: list[str] = field(default_factory=list)
    """The site's answers, ``instance:METHOD path status`` each."""


class People:
    """Hands out people so that no one logs in twice within one TOTP step (the IdP
    accepts each step once)."""

    def __init__(self, people: list[LoadPerson]) -> None:
        self._people = people
        self._used: dict[int, int] = {}
        self._next = 0
        self._lock = threading.Lock()
        self.left: int | None = None
        """When set, how many more people :meth:`take` hands out before it answers None."""

    def take(self, deadline: float) -> LoadPerson | None:
        """The next person free to log in; None if none is free before ``deadline``."""
        while time.monotonic() < deadline:
            now = time.time()
            step = int(now) // 30
            # the code is computed a moment later, at the IdP's form: near the end of a step
            # it may be the next step's, which the IdP then takes as used
            marked = step + 1 if now % 30 > 30 - _CODE_LEEWAY else step
            with self._lock:
                if self.left is not None and self.left <= 0:
                    return None
                for _ in range(len(self._people)):
                    person = self._people[self._next % len(self._people)]
                    self._next += 1
                    if self._used.get(person.oid, -1) < step:
                        self._used[person.oid] = marked
                        if self.left is not None:
                            self.left -= 1
                        return person
            time.sleep(0.1)
        return None

    def give_back(self, person: LoadPerson) -> None:
        """``person`` did not use a TOTP code after all: free to log in again now."""
        with self._lock:
            self._used.pop(person.oid, None)


class Browser:
    """One browser: its own cookies for the site, its own connection to each server."""

    def __init__(self, site: Site, idp_url: str) -> None:
        self.site = site
        self.idp_url = idp_url
        self.jar: dict[str, str] = {}
        self.address = ""
        self.http = httpx.Client(timeout=site.timeout, follow_redirects=False)
        self.record: Record | None = None

    def close(self) -> None:
        self.http.close()

    def _keep(self, answer: httpx.Response) -> None:
        for header in answer.headers.get_list("set-cookie"):  # Secure ones too, as over TLS
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in header.lower():
                self.jar[name.strip()] = value
            else:
                self.jar.pop(name.strip(), None)

    def _timed(self, what: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        start = time.monotonic()
        status = "no answer"
        try:
            answer = call()
            status = str(answer.status_code)
            return answer
        finally:
            took = time.monotonic() - start
            if self.record is not None and took > self.record.slowest:
                self.record.slowest, self.record.slowest_what = took, f"{what} {status}"

    def site_request(
        self, method: str, path: str, data: dict[str, str] | None = None
    ) -> httpx.Response:
        """``path`` on the next live instance; a refused connection tries the next."""
        for attempt in itertools.count():
            index = self.site.pick()
            cookie = "; ".join(f"{k}={v}" for k, v in self.jar.items())
            url = self.site.urls[index] + path
            what = f"{method} {path.split('?', 1)[0]} on instance {index}:"
            try:
                answer = self._timed(
                    what,
                    lambda url=url, cookie=cookie: self.http.request(
                        method,
                        url,
                        data=data,
                        headers={"Cookie": cookie, "X-Forwarded-For": self.address},
                    ),
                )
            except httpx.ConnectError:
                self.site.mark_down(index)
                continue
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if self.record is not None:
                    self.record.lost_on.append(index)
                    self.record.trail.append(f"{index}:{method} {path.split('?', 1)[0]} lost")
                if method != "GET" or attempt > len(self.site.urls):
                    raise
                continue  # the instance died mid-answer: a balancer retries a GET elsewhere
            self._keep(answer)
            if self.record is not None:
                self.record.trail.append(
                    f"{index}:{method} {path.split('?', 1)[0]} {answer.status_code}"
                )
                if self.record.first_instance < 0:
                    self.record.first_instance = index
                self.record.statuses.append(answer.status_code)
                if answer.status_code >= 400 and self.record.kind == "login":
                    found = _CODE.search(answer.text)
                    code = found.group(1) if found else ""
                    self.record.person_outcome = code in PERSON_OUTCOMES
                if answer.status_code >= 400:
                    found = _CODE.search(answer.text)
                    self.record.codes.append(
                        found.group(1) if found else f"http.{answer.status_code}"
                    )
            return answer
        raise AssertionError("unreachable")

    def idp_request(
        self, method: str, url: str, data: dict[str, str] | None = None
    ) -> httpx.Response:
        what = f"{method} {urlsplit(url).path} at the IdP:"
        return self._timed(what, lambda: self.http.request(method, url, data=data))

    def login(self, person: LoadPerson, *, again: bool = False) -> Record:
        """A whole login of ``person``, ending with the protected page; ``again``: the
        same person starts again in the same browser (the IdP's session is kept, so the IdP
        sends them straight back)."""
        self.jar.clear()
        if not again:
            self.address = (
                f"10.{person.oid % 250}.{person.oid // 250 % 250}.{secrets.randbelow(250) + 1}"
            )
            self.http.cookies.clear()  # a new person: no single sign-on session at the IdP
        record = self.record = Record("login", time.monotonic(), again=again)
        try:
            record.ok = self._login(person)
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
        finally:
            record.seconds = time.monotonic() - record.started
            self.record = None
        return record

    def _login(self, person: LoadPerson) -> bool:
        to_idp = self.site_request("GET", "/auth/login/esia")
        if to_idp.status_code != 302:
            return False
        done = page = self.idp_request("GET", to_idp.headers["location"])
        if page.status_code != 302:  # no single sign-on session: the IdP's login pages
            fields = dict(_FIELD.findall(page.text))
            if "txn" not in fields:
                return False
            form = {"txn": fields["txn"], "login": person.login, "password": person.password}
            self.idp_request("POST", self.idp_url + "/login", form)
            code = totp(decode_secret(person.totp_secret), int(time.time()))
            if self.record is not None:
                self.record.code_sent = True
            done = self.idp_request(
                "POST", self.idp_url + "/login/code", {"txn": fields["txn"], "code": code}
            )
            if done.status_code != 302:
                return False
        back = urlsplit(done.headers["location"])
        answer = self.site_request("GET", f"{back.path}?{back.query}")
        if answer.status_code == 200 and 'name="account"' in answer.text:
            chooser = dict(_FIELD.findall(answer.text))
            form = {
                "step_id": html.unescape(chooser["step_id"]),
                "account": html.unescape(chooser["account"]),
            }
            answer = self.site_request("POST", "/auth/choose", form)
        if answer.status_code not in (302, 303):
            return False
        page = self.site_request("GET", "/grades")
        if page.status_code == 200 and self.record is not None:
            self.record.account = page.json().split(",", 1)[0]  # the page is a JSON string
        return page.status_code == 200

    def page(self, path: str = "/grades") -> Record:
        """One request for ``path`` with this browser's session."""
        record = self.record = Record("page", time.monotonic())
        try:
            record.ok = self.site_request("GET", path).status_code == 200
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
        finally:
            record.seconds = time.monotonic() - record.started
            self.record = None
        return record


@dataclass
class Outcome:
    """Every record of a load run, and figures over them."""

    records: list[Record]
    seconds: float

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]

    def rate(self, kind: str) -> float:
        return sum(1 for r in self.of(kind) if r.ok) / self.seconds

    def percentile_ms(self, kind: str, q: float) -> float:
        times = sorted(r.seconds for r in self.of(kind) if r.ok)
        if not times:
            return float("nan")
        if len(times) == 1:
            return times[0] * 1000
        return statistics.quantiles(times, n=100, method="inclusive")[round(q) - 1] * 1000

    def statuses(self, status: int) -> int:
        return sum(r.statuses.count(status) for r in self.records)

    def codes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            for code in record.codes:
                counts[code] = counts.get(code, 0) + 1
        return counts


def run_load(
    site: Site,
    idp_url: str,
    people: People,
    *,
    clients: int,
    seconds: float,
    pages_per_login: int = 3,
    browsers: list[Browser] | None = None,
    path: str = "/grades",
) -> Outcome:
    """``clients`` threads for ``seconds``: each logs a new person in, then asks for the
    page ``pages_per_login`` times; with ``browsers`` (signed in already) and
    ``pages_per_login`` 0, each thread only asks for ``path`` with its browser."""
    records: list[Record] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(index: int) -> None:
        own = browsers[index % len(browsers)] if browsers else Browser(site, idp_url)
        mine: list[Record] = []
        try:
            while time.monotonic() < stop_at:
                if browsers and pages_per_login == 0:
                    mine.append(own.page(path))
                    continue
                person = people.take(stop_at)
                if person is None:
                    break
                login = own.login(person)
                if not login.code_sent:
                    people.give_back(person)
                mine.append(login)
                if not login.ok and login.lost_on and not login.person_outcome:
                    # its request died inside an instance: the person starts again
                    again = own.login(person, again=True)
                    login.account = again.account
                    mine.append(again)
                for _ in range(pages_per_login if login.ok else 0):
                    mine.append(own.page(path))
        finally:
            if not browsers:
                own.close()
            with lock:
                records.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome(records, time.monotonic() - started)
