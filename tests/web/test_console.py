"""The operator's console through the framework-neutral core: off by default, the host's
role check, CSRF bound to the operator and the browser, a confirmation before every
action, each action's effect and its audit record, stable codes for bad input, and the
search by name and birth date through the name index. The adapters mount it too."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
from django.test import Client as DjangoClient
from django.test.utils import override_settings
from starlette.applications import Starlette
from starlette.testclient import TestClient

from helpers.accounts import ISSUER, KEY, ORGS
from helpers.broker import CHEAP_HASHER
from helpers.clock import FixedClock
from sso_bridge.broker import Broker
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.requests import InMemoryLinkRequestStore, LinkRequests
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender, RecoveryCodes
from sso_bridge.mfa.errors import SecondFactorLocked
from sso_bridge.model import AuditAction, AuditEvent, MatchKeys, name_key
from sso_bridge.sessions import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, SqlStore, open_store
from sso_bridge.web import AuthRoutes, WebConfig, WebRequest, WebResponse
from sso_bridge.web import flask as web_flask
from sso_bridge.web import starlette as web_starlette
from sso_bridge.web.console import ConsoleConfig
from sso_bridge.web.console.pages import FORBIDDEN_BODY
from web.support import DIRECTOR, SECRET, TEACHER

IP = "192.0.2.10"
OPERATOR = "olga"
HEADER = "x-test-operator"
BROWSER = "__Host-sso_browser"


def role_check(request: Any) -> str | None:
    """The test host's operators: whoever sends the header (a test stand-in for the
    host's own admin session)."""
    return request.headers.get(HEADER) if isinstance(request, WebRequest) else None


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the two accounts, made once: each test opens a copy of it."""
    path = tmp_path_factory.mktemp("console") / "seeded.db"
    made = open_store(f"sqlite:///{path}", KEY)
    made.import_accounts([TEACHER, DIRECTOR], ORGS)
    made.close()
    return path


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> Iterator[SqlStore]:
    copy = tmp_path / "console.db"
    shutil.copyfile(seeded, copy)
    made = open_store(f"sqlite:///{copy}", KEY)
    yield made
    made.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def requests_store() -> InMemoryLinkRequestStore:
    return InMemoryLinkRequestStore()


@pytest.fixture
def broker(store: SqlStore, clock: FixedClock) -> Broker:
    return Broker(
        directory=store,
        links=store,
        audit=store,
        store=InMemoryEphemeralStore(),
        credentials=InMemoryCredentialStore(),
        sender=OutboxSender(),
        secret=SECRET,
        clock=clock,
        password_hasher=CHEAP_HASHER,
    )


@pytest.fixture
def routes(broker: Broker, requests_store: InMemoryLinkRequestStore) -> AuthRoutes:
    console = ConsoleConfig(role_check, page_size=3, link_requests=requests_store)
    return AuthRoutes(broker, WebConfig(console=console))


class Operator:
    """A browser of an operator: its browser cookie and the console's CSRF token."""

    def __init__(self, routes: AuthRoutes, operator: str = OPERATOR) -> None:
        self.routes = routes
        self.operator = operator
        self.cookies = {BROWSER: routes.broker.browser_ids.issue()[1]}

    @property
    def headers(self) -> dict[str, str]:
        return {HEADER: self.operator}

    def get(self, name: str, path: str = "", **query: str) -> WebResponse:
        request = WebRequest(
            "GET",
            "/auth/console" + path,
            query=query,
            cookies=self.cookies,
            headers=self.headers,
            remote_addr=IP,
        )
        console = self.routes.console
        assert console is not None
        return console.handle(name, request)

    def token(self) -> str:
        page = self.get("console_search")
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.render(page))
        if found is None:  # the search page has no form that posts: take the requests page's
            return str(self.get("console_requests", "/requests").context["csrf_token"])
        return found.group(1)

    def post(self, token: str | None = None, **form: str) -> WebResponse:
        fields = dict(form)
        fields["csrf_token"] = self.token() if token is None else token
        request = WebRequest(
            "POST",
            "/auth/console/act",
            form=list(fields.items()),
            cookies=self.cookies,
            headers={**self.headers, "user-agent": "console-test"},
            remote_addr=IP,
        )
        console = self.routes.console
        assert console is not None
        return console.handle("console_act", request)

    def act(self, **form: str) -> WebResponse:
        """Ask, check the confirmation page, then confirm."""
        asked = self.post(**form)
        assert asked.status == 200, self.render(asked)
        assert asked.template == "console/confirm.html"
        assert 'name="confirmed" value="yes"' in self.render(asked)
        done = self.post(**form, confirmed="yes")
        assert done.status == 303, self.render(done)
        return done

    def render(self, response: WebResponse) -> str:
        return self.routes.output(response)[2]


@pytest.fixture
def olga(routes: AuthRoutes) -> Operator:
    return Operator(routes)


def records(broker: Broker, action: AuditAction) -> list[AuditEvent]:
    return [e for e in broker.audit.tail(100) if e.action is action]


def start_sessions(broker: Broker, account_id: str, clock: FixedClock, count: int) -> None:
    for n in range(count):
        broker.sessions.start(
            account_id,
            ip=f"198.51.100.{n + 1}",
            user_agent="Firefox",
            now=clock.now(),
            method="local",
        )


# -- off, the role check, CSRF ---------------------------------------------------------------


def test_the_console_is_off_by_default(broker: Broker) -> None:
    assert AuthRoutes(broker, WebConfig()).console is None


def test_a_request_the_role_check_refuses_gets_a_bare_403(routes: AuthRoutes) -> None:
    console = routes.console
    assert console is not None
    nobody = WebRequest("GET", "/auth/console", remote_addr=IP)
    answer = console.handle("console_search", nobody)
    assert (answer.status, answer.body, answer.template, answer.cookies) == (
        403,
        FORBIDDEN_BODY,
        None,
        (),
    )
    status, headers, body = routes.output(answer)
    assert status == 403 and body == FORBIDDEN_BODY
    assert not [v for k, v in headers if k == "Set-Cookie"]


@pytest.mark.parametrize("given", [None, "", "   ", "olga\nadmin", "x" * 65, 42])
def test_only_an_operator_id_passes_the_role_check(broker: Broker, given: object) -> None:
    routes = AuthRoutes(broker, WebConfig(console=ConsoleConfig(lambda request: given)))
    assert routes.console is not None
    answer = routes.console.handle("console_search", WebRequest("GET", "/auth/console"))
    assert answer.status == 403


def test_a_failing_role_check_refuses(broker: Broker) -> None:
    def broken(request: Any) -> str:
        raise RuntimeError("the host's session store is down")

    routes = AuthRoutes(broker, WebConfig(console={"role_check": broken}))
    assert routes.console is not None
    assert routes.console.handle("console_search", WebRequest("GET", "/auth/console")).status == 403


def test_a_persons_session_is_no_operator(
    routes: AuthRoutes, broker: Broker, clock: FixedClock
) -> None:
    token, _ = broker.sessions.start(
        TEACHER.account_id, ip=IP, user_agent="x", now=clock.now(), method="local"
    )
    cookies = {"__Host-sso_session": token, BROWSER: broker.browser_ids.issue()[1]}
    assert routes.console is not None
    request = WebRequest("GET", "/auth/console", cookies=cookies, remote_addr=IP)
    assert routes.console.handle("console_search", request).status == 403


def test_an_action_needs_the_operators_csrf_token(
    routes: AuthRoutes, olga: Operator, broker: Broker, clock: FixedClock
) -> None:
    start_sessions(broker, TEACHER.account_id, clock, 1)
    form = {"action": "end_sessions", "account": TEACHER.account_id, "confirmed": "yes"}
    assert olga.post(token="", **form).status == 403
    other = Operator(routes, "boris")  # another operator's token
    assert olga.post(token=other.token(), **form).status == 403
    elsewhere = Operator(routes)  # the same operator in another browser
    refused = olga.post(token=elsewhere.token(), **form)
    assert refused.context["code"] == "session.csrf_invalid"
    assert len(broker.sessions.sessions_of(TEACHER.account_id, clock.now())) == 1
    assert not records(broker, AuditAction.SESSIONS_ENDED)
    assert olga.post(**form).status == 303


# -- the actions -----------------------------------------------------------------------------


def test_end_all_sessions_asks_first_then_ends_them_and_is_audited(
    olga: Operator, broker: Broker, clock: FixedClock
) -> None:
    start_sessions(broker, TEACHER.account_id, clock, 2)
    start_sessions(broker, DIRECTOR.account_id, clock, 1)
    form = {"action": "end_sessions", "account": TEACHER.account_id, "back": "account"}
    asked = olga.post(**form)
    assert asked.template == "console/confirm.html"
    assert len(broker.sessions.sessions_of(TEACHER.account_id, clock.now())) == 2
    done = olga.post(**form, confirmed="yes")
    assert done.location == f"/auth/console/account?id={TEACHER.account_id}&done=end_sessions"
    assert broker.sessions.sessions_of(TEACHER.account_id, clock.now()) == []
    assert len(broker.sessions.sessions_of(DIRECTOR.account_id, clock.now())) == 1
    (record,) = records(broker, AuditAction.SESSIONS_ENDED)
    assert (record.actor, record.account_id, record.ip) == ("operator:olga", TEACHER.account_id, IP)
    assert record.user_agent == "console-test"
    assert "2 session" in (record.detail or "")
    page = olga.get("console_account", "/account", id=TEACHER.account_id, done="end_sessions")
    assert "Все сеансы завершены" in olga.render(page)


def test_unlink(olga: Operator, broker: Broker, store: SqlStore) -> None:
    linker = Linker(store, store, broker.audit)
    linker.link_admin(ISSUER, "1000000101", TEACHER.account_id, RequestContext("test"))
    olga.act(action="unlink", account=TEACHER.account_id, issuer=ISSUER, subject="1000000101")
    assert store.links_for_account(TEACHER.account_id) == []
    (record,) = records(broker, AuditAction.UNLINK)
    assert (record.actor, record.subject, record.method) == ("operator:olga", "1000000101", "admin")
    again = olga.post(
        action="unlink", account=TEACHER.account_id, issuer=ISSUER, subject="1000000101"
    )
    assert (again.status, again.context["code"]) == (404, "link.not_found")


def test_unlock_the_password(olga: Operator, broker: Broker, clock: FixedClock) -> None:
    for _ in range(5):
        broker.credentials.record_failed_login(TEACHER.account_id, clock.now(), 5, None)
    page = olga.render(olga.get("console_account", "/account", id=TEACHER.account_id))
    assert "заблокирован до разблокировки" in page
    olga.act(action="unlock_password", account=TEACHER.account_id)
    credentials = broker.credentials.get(TEACHER.account_id)
    assert credentials is not None
    assert not credentials.locked(clock.now()) and credentials.failed_logins == 0
    (record,) = records(broker, AuditAction.UNLOCK)
    assert record.actor == "operator:olga" and "password" in (record.detail or "")


def test_unlock_the_second_factor(olga: Operator, broker: Broker, clock: FixedClock) -> None:
    budget = olga.routes.console.actions.second_factor_budget()  # type: ignore[union-attr]
    assert budget is not None
    while budget.failed(TEACHER.account_id, clock.now()) is None:
        pass
    with pytest.raises(SecondFactorLocked):
        budget.check(TEACHER.account_id, clock.now())
    page = olga.render(olga.get("console_account", "/account", id=TEACHER.account_id))
    assert "Второй фактор заблокирован" in page
    olga.act(action="unlock_second_factor", account=TEACHER.account_id)
    budget.check(TEACHER.account_id, clock.now())
    (record,) = records(broker, AuditAction.UNLOCK)
    assert record.actor == "operator:olga" and "second-factor" in (record.detail or "")


def test_reset_the_authenticator_app(olga: Operator, broker: Broker) -> None:
    broker.credentials.set_totp(TEACHER.account_id, b"k" * 20)
    RecoveryCodes(broker.credentials).generate(TEACHER.account_id)
    page = olga.render(olga.get("console_account", "/account", id=TEACHER.account_id))
    assert "Резервных кодов осталось: 10" in page
    olga.act(action="reset_totp", account=TEACHER.account_id)
    assert not broker.totp_enrolled(TEACHER.account_id)
    assert RecoveryCodes(broker.credentials).left(TEACHER.account_id) == 0
    (record,) = records(broker, AuditAction.CREDENTIALS)
    assert record.actor == "operator:olga" and record.account_id == TEACHER.account_id


def _request(
    broker: Broker, store: SqlStore, requests_store: InMemoryLinkRequestStore, subject: str
) -> str:
    queue = LinkRequests(requests_store, Linker(store, store, broker.audit), broker.audit)
    made, _ = queue.submit(TEACHER.account_id, ISSUER, subject, "birth_date", ip=IP)
    return made.request_id


def test_approve_a_link_request(
    olga: Operator, broker: Broker, store: SqlStore, requests_store: InMemoryLinkRequestStore
) -> None:
    request_id = _request(broker, store, requests_store, "1000000555")
    listed = olga.render(olga.get("console_requests", "/requests"))
    assert "1000000555" in listed and "birth_date" in listed
    done = olga.act(action="approve", request=request_id, back="requests")
    assert done.location == "/auth/console/requests?done=approve"
    assert [link.subject for link in store.links_for_account(TEACHER.account_id)] == ["1000000555"]
    assert requests_store.get(request_id) is None
    (record,) = records(broker, AuditAction.LINK)
    assert record.actor == "operator:olga"


def test_refuse_a_link_request(
    olga: Operator, broker: Broker, store: SqlStore, requests_store: InMemoryLinkRequestStore
) -> None:
    request_id = _request(broker, store, requests_store, "1000000556")
    olga.act(action="refuse", request=request_id, back="account")
    assert store.links_for_account(TEACHER.account_id) == []
    (record,) = records(broker, AuditAction.LINK_REQUEST_REFUSED)
    assert record.actor == "operator:olga" and record.subject == "1000000556"
    again = olga.post(action="refuse", request=request_id)
    assert (again.status, again.context["code"]) == (404, "link_request.not_found")


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"action": "end_sessions", "account": "nobody"}, 404, "account.not_found"),
        ({"action": "end_sessions", "account": ""}, 400, "console.bad_input"),
        ({"action": "end_sessions", "account": "t1\x00"}, 400, "console.bad_input"),
        ({"action": "delete_everything", "account": "t1"}, 404, "console.unknown_action"),
        ({"action": "unlink", "account": "t1"}, 400, "console.bad_input"),
        ({"action": "approve", "request": "../x"}, 400, "link_request.bad_id"),
        ({"action": "approve", "request": "no-such-request"}, 404, "link_request.not_found"),
    ],
)
def test_bad_actions_get_stable_codes_and_change_nothing(
    olga: Operator, broker: Broker, form: dict[str, str], status: int, code: str
) -> None:
    before = len(broker.audit.tail(100))
    refused = olga.post(**form, confirmed="yes")
    assert (refused.status, refused.context["code"]) == (status, code)
    assert code in olga.render(refused)
    assert len(broker.audit.tail(100)) == before


@pytest.mark.parametrize(
    ("name", "path", "query", "status", "code"),
    [
        ("console_account", "/account", {"id": "nobody"}, 404, "account.not_found"),
        ("console_account", "/account", {}, 400, "console.bad_input"),
        ("console_account", "/account", {"id": "t1", "page": "abc"}, 400, "console.bad_input"),
        ("console_account", "/account", {"id": "t1", "page": "0"}, 400, "console.bad_input"),
        ("console_search", "", {"by": "sql"}, 400, "console.bad_input"),
        ("console_search", "", {"by": "login", "org": "sch1"}, 400, "console.bad_input"),
        (
            "console_search",
            "",
            {"by": "name", "last": "Смирнова", "first": "Мария", "birth": "12.03.1984"},
            400,
            "console.bad_date",
        ),
    ],
)
def test_bad_pages_get_stable_codes(
    olga: Operator, name: str, path: str, query: dict[str, str], status: int, code: str
) -> None:
    refused = olga.get(name, path, **query)
    assert (refused.status, refused.context["code"]) == (status, code)


def test_without_a_request_store_approving_is_off(broker: Broker, store: SqlStore) -> None:
    routes = AuthRoutes(broker, WebConfig(console=ConsoleConfig(role_check)))
    assert routes.console is not None
    routes.console.actions.requests = None
    olga = Operator(routes)
    assert "не хранятся" in olga.render(olga.get("console_requests", "/requests"))
    refused = olga.post(action="refuse", request="abc", confirmed="yes")
    assert (refused.status, refused.context["code"]) == (404, "console.requests_off")


# -- search and the account page -------------------------------------------------------------


def test_search_by_login_and_by_account_id(olga: Operator) -> None:
    found = olga.get("console_search", by="login", org="sch1", login="smirnova")
    assert [a["account"].account_id for a in found.context["results"]] == [TEACHER.account_id]
    assert (
        olga.get("console_search", by="login", org="sch2", login="smirnova").context["results"]
        == []
    )
    by_id = olga.get("console_search", by="account", account=DIRECTOR.account_id)
    assert [a["account"].login for a in by_id.context["results"]] == ["ivanov"]


def test_search_by_name_and_birth_date_goes_through_the_name_index(
    olga: Operator, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[MatchKeys] = []
    find = store.find_accounts

    def spy(keys: MatchKeys, issuer: str) -> Any:
        asked.append(keys)
        return find(keys, issuer)

    def scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the accounts were listed, not looked up")

    monkeypatch.setattr(store, "find_accounts", spy)
    monkeypatch.setattr(store, "list_accounts", scan)
    found = olga.get(
        "console_search", by="name", last="СМИРНОВА ", first="мария", birth="1984-03-12"
    )
    assert [a["account"].account_id for a in found.context["results"]] == [TEACHER.account_id]
    # the index key of the normalised names and the date, and nothing else to look up by
    assert [(k.name_key, k.snils, k.passport) for k in asked] == [
        (name_key("смирнова", "мария", 19840312), None, None)
    ]
    for other in ({"birth": "1984-03-13"}, {"middle": "Ивановна"}, {"last": "Смирн"}):
        query = {"last": "Смирнова", "first": "Мария", "birth": "1984-03-12", **other}
        assert olga.get("console_search", by="name", **query).context["results"] == [], other
    same = olga.get(
        "console_search",
        by="name",
        last="Смирнова",
        first="Мария",
        middle="петровна",
        birth="1984-03-12",
    )
    assert len(same.context["results"]) == 1


def test_the_account_page_shows_sessions_without_tokens_and_a_paged_timeline(
    olga: Operator, broker: Broker, clock: FixedClock
) -> None:
    token, _ = broker.sessions.start(
        TEACHER.account_id, ip="203.0.113.7", user_agent="Firefox", now=clock.now(), method="local"
    )
    for n in range(7):
        clock.advance(timedelta(minutes=1))
        event = AuditEvent(
            AuditAction.LOGIN, clock.now(), "web", account_id=TEACHER.account_id, detail=f"n{n}"
        )
        broker.audit.record(event)
    first = olga.get("console_account", "/account", id=TEACHER.account_id)
    page = olga.render(first)
    assert "203.0.113.7" in page
    assert token not in page
    assert [r.detail for r in first.context["shown"].timeline.records] == ["n6", "n5", "n4"]
    assert "page=2" in page
    third = olga.get("console_account", "/account", id=TEACHER.account_id, page="3")
    assert [r.detail for r in third.context["shown"].timeline.records] == ["n0"]
    assert not third.context["shown"].timeline.more


def test_the_pages_speak_english_when_asked(routes: AuthRoutes, olga: Operator) -> None:
    console = routes.console
    assert console is not None
    request = WebRequest(
        "GET",
        "/auth/console/account",
        query={"id": TEACHER.account_id},
        headers={HEADER: OPERATOR, "accept-language": "en"},
        cookies=olga.cookies,
        remote_addr=IP,
    )
    page = routes.output(console.handle("console_account", request))[2]
    assert '<html lang="en">' in page
    assert "Active sessions" in page and "Активные сеансы" not in page


# -- the adapters ------------------------------------------------------------------------------


def header_check(request: Any) -> str | None:
    """The operator of a Flask, Starlette or Django request: the test header."""
    value = request.headers.get(HEADER)
    return str(value) if value else None


ADAPTED = WebConfig(
    cookies=CookieSettings(secure=False), console=ConsoleConfig(header_check, prefix="/ops")
)


def test_flask_mounts_the_console_only_when_it_is_on(broker: Broker) -> None:
    off = flask.Flask("console_off")
    web_flask.SsoBridge(off, broker=broker, config=WebConfig(cookies=CookieSettings(secure=False)))
    assert off.test_client().get("/auth/console").status_code == 404
    app = flask.Flask("console_on")
    web_flask.SsoBridge(app, broker=broker, config=ADAPTED)
    client = app.test_client()
    assert client.get("/ops").get_data(as_text=True) == FORBIDDEN_BODY
    page = client.get(
        "/ops/account", query_string={"id": TEACHER.account_id}, headers={HEADER: "o"}
    )
    assert page.status_code == 200 and "smirnova" in page.get_data(as_text=True)
    assert client.post("/ops/act", headers={HEADER: "o"}).status_code == 403  # no token


def test_starlette_mounts_the_console_only_when_it_is_on(broker: Broker) -> None:
    plain = WebConfig(cookies=CookieSettings(secure=False))
    off = TestClient(Starlette(routes=[web_starlette.auth_routes(broker, plain)]))
    assert off.get("/auth/console").status_code == 404
    inside = WebConfig(
        cookies=CookieSettings(secure=False), console=ConsoleConfig(header_check)
    )  # under the auth prefix
    for config, prefix in ((ADAPTED, "/ops"), (inside, "/auth/console")):
        app = Starlette(routes=[web_starlette.auth_routes(broker, config)])
        client = TestClient(app, client=("127.0.0.1", 50000))
        refused = client.get(prefix)
        assert (refused.status_code, refused.text) == (403, FORBIDDEN_BODY)
        page = client.get(f"{prefix}/account?id={TEACHER.account_id}", headers={HEADER: "o"})
        assert page.status_code == 200 and "smirnova" in page.text
        assert client.put(f"{prefix}/act", headers={HEADER: "o"}).status_code == 405
        assert client.get("/auth/login").status_code == 200


def test_django_mounts_the_console_only_when_it_is_on(broker: Broker) -> None:
    client = DjangoClient(REMOTE_ADDR="127.0.0.1")
    off = {"BROKER": broker, "CONFIG": {"cookies": CookieSettings(secure=False)}}
    with override_settings(SSO_BRIDGE=off):
        assert client.get("/auth/console").status_code == 404
    on = {
        "BROKER": broker,
        "CONFIG": {
            "cookies": CookieSettings(secure=False),
            "console": {"role_check": header_check},
        },
    }
    with override_settings(SSO_BRIDGE=on):
        refused = client.get("/auth/console")
        assert (refused.status_code, refused.content.decode()) == (403, FORBIDDEN_BODY)
        page = client.get(
            "/auth/console/account", {"id": TEACHER.account_id}, headers={HEADER: "o"}
        )
        assert page.status_code == 200 and "smirnova" in page.content.decode()
        assert client.get("/auth/console/act", headers={HEADER: "o"}).status_code == 405
