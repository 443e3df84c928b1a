"""The framework-neutral routes: error pages, cookies, headers, templates, guards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from helpers.accounts import KEY, ORGS
from helpers.clock import FixedClock
from sso_bridge import codes
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.broker import Broker, BrokerPolicy
from sso_bridge.broker.errors import BrokerError
from sso_bridge.errors import ConfigError, StoreError, family_class
from sso_bridge.mfa import (
    InMemoryCredentialStore,
    LocalPasswords,
    OutboxSender,
    SecondFactorPolicy,
    password_hasher,
)
from sso_bridge.sessions import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, open_store
from sso_bridge.web import Authenticated, AuthRoutes, WebConfig, WebRequest, WebResponse
from web.support import PASSWORD, SECRET, TEACHER

IP = "192.0.2.10"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    store = open_store(f"sqlite:///{tmp_path / 'core.db'}", KEY)
    store.import_accounts([TEACHER], ORGS)
    credentials = InMemoryCredentialStore()
    made = Broker(
        directory=store,
        links=store,
        audit=InMemoryAuditLog(),
        store=InMemoryEphemeralStore(),
        credentials=credentials,
        sender=OutboxSender(),
        secret=SECRET,
        policy=BrokerPolicy(
            second_factor=SecondFactorPolicy(staff_roles=(), for_local_logins=False)
        ),
        clock=FixedClock(),
    )
    cheap = password_hasher(time_cost=1, memory_cost=8, parallelism=1)
    made.passwords = LocalPasswords(credentials, hasher=cheap)
    made.passwords.set_password(TEACHER.account_id, PASSWORD, FixedClock().now())
    yield made
    store.close()


@pytest.fixture
def routes(broker: Broker) -> AuthRoutes:
    return AuthRoutes(broker, WebConfig())


def get(path: str, cookies: dict[str, str] | None = None, **query: str) -> WebRequest:
    return WebRequest("GET", path, query=query, cookies=cookies or {}, remote_addr=IP)


def render(routes: AuthRoutes, response: WebResponse) -> tuple[int, dict[str, list[str]], str]:
    status, headers, body = routes.output(response)
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return status, grouped, body


def log_in(routes: AuthRoutes) -> dict[str, str]:
    """The cookies of a browser that logged in locally."""
    cookies = {"__Host-sso_browser": routes.broker.browser_ids.issue()[1]}
    page = routes.handle("login_page", get("/auth/login", cookies))
    step = page.context["form"].step_id
    form = [("step", step), ("org", "sch1"), ("login", "smirnova"), ("password", PASSWORD)]
    done = routes.handle(
        "local", WebRequest("POST", "/auth/local", form=form, cookies=cookies, remote_addr=IP)
    )
    token = re.search(r"__Host-sso_session=([^;]+)", " ".join(done.cookies))
    assert token is not None, done
    return {**cookies, "__Host-sso_session": token.group(1)}


EXPLAINED = {
    "broker.no_match": ("затем свяжите Госуслуги в настройках входа", "then link Gosuslugi"),
    "auth.locked": ("разблокировать", "ask the school administrator to unlock it"),
    "auth.account_blocked": ("заблокирована", "Ask the school administrator to unblock it"),
    "broker.account_blocked": ("заблокирована", "Ask the school administrator to unblock it"),
    "mfa.too_many_attempts": ("Слишком много неверных кодов", "Start signing in again"),
    "session.ip_changed": ("с другого IP-адреса", "used from another IP address"),
    "session.expired": ("Сеанс истёк", "Your session has expired"),
    "broker.provider_disabled": ("отключён", "switched off"),
    "broker.step_unknown": ("Начните вход заново", "Start signing in again"),
    "broker.not_offered": ("не была вам предложена", "was not offered to you"),
}


@pytest.mark.parametrize(("code", "texts"), EXPLAINED.items())
def test_error_pages_say_what_to_do(routes: AuthRoutes, code: str, texts: tuple[str, str]) -> None:
    exc = family_class(code.partition(".")[0])("detail for the log", code=code)
    status, headers, body = render(routes, routes.error_response(exc, get("/auth/x")))
    assert status == codes.describe(code).status
    russian, english = texts
    assert russian in body
    assert english not in body  # one language at a time
    english_page = WebRequest("GET", "/auth/x", headers={"accept-language": "en"})
    _, _, in_english = render(routes, routes.error_response(exc, english_page))
    assert english in in_english
    assert russian not in in_english
    assert code in body
    assert "detail for the log" not in body
    assert "Что-то пошло не так" not in body
    assert headers["content-type"] == ["text/html; charset=utf-8"]


def test_other_errors_get_the_generic_text_and_the_code(routes: AuthRoutes) -> None:
    exc = StoreError("the database said no")
    status, _, body = render(routes, routes.error_response(exc, get("/auth/x")))
    assert status == 500
    assert "Что-то пошло не так" in body
    assert "Something went wrong" not in body
    assert "store.error" in body
    assert "the database said no" not in body


def test_an_unexpected_failure_shows_no_trace(
    routes: AuthRoutes, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(broker, "begin_local", fail)
    status, _, body = render(routes, routes.handle("login_page", get("/auth/login")))
    assert status == 500
    assert "bridge.error" in body
    assert "secret internals" not in body
    assert "Traceback" not in body


def test_the_first_visit_sets_the_browser_cookie_once(routes: AuthRoutes) -> None:
    _, headers, _ = render(routes, routes.handle("login_page", get("/auth/login")))
    [cookie] = headers["set-cookie"]
    assert cookie.startswith("__Host-sso_browser=")
    assert "; Secure; HttpOnly; SameSite=Lax" in cookie
    value = cookie.split("=", 1)[1].split(";")[0]
    again = routes.handle("login_page", get("/auth/login", {"__Host-sso_browser": value}))
    assert again.cookies == ()


def test_pages_carry_protective_headers(routes: AuthRoutes) -> None:
    _, headers, body = render(routes, routes.handle("login_page", get("/auth/login")))
    assert headers["cache-control"] == ["no-store"]
    assert headers["referrer-policy"] == ["no-referrer"]
    assert headers["x-frame-options"] == ["DENY"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"][0]
    assert '<html lang="ru">' in body


def test_english_when_configured_as_the_default(broker: Broker) -> None:
    routes = AuthRoutes(broker, WebConfig(language="en"))
    _, headers, body = render(routes, routes.handle("login_page", get("/auth/login")))
    assert '<html lang="en">' in body
    assert headers["content-language"] == ["en"]
    assert "Sign in with your school login" in body
    assert "Вход по логину школы" not in body


def test_host_templates_come_first(broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "error.html").write_text("<p>our own page: {{ code }}</p>", encoding="utf-8")
    routes = AuthRoutes(broker, WebConfig(template_dirs=[tmp_path]))
    response = routes.error_response(BrokerError("x", code="broker.no_match"), get("/auth/x"))
    assert render(routes, response)[2] == "<p>our own page: broker.no_match</p>"
    _, _, login = render(routes, routes.handle("login_page", get("/auth/login")))
    assert "Вход по логину школы" in login  # the others are still the bundled ones


def test_next_must_stay_on_this_site(routes: AuthRoutes) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        page = routes.handle("login_page", get("/auth/login", next=target))
        assert not [c for c in page.cookies if "sso_next" in c]
    page = routes.handle("login_page", get("/auth/login", next="/grades?x=1"))
    assert [c for c in page.cookies if c.startswith("__Host-sso_next=")]


def test_require_without_a_session_goes_to_the_login(routes: AuthRoutes) -> None:
    outcome = routes.require(WebRequest("GET", "/grades", remote_addr=IP, query_string="a=1"))
    assert isinstance(outcome, WebResponse)
    assert outcome.status == 302
    assert outcome.location == "/auth/login?next=%2Fgrades%3Fa%3D1"


def test_require_gives_the_session_and_its_csrf_token(routes: AuthRoutes, broker: Broker) -> None:
    cookies = log_in(routes)
    outcome = routes.require(get("/grades", cookies))
    assert isinstance(outcome, Authenticated)
    assert outcome.session.account_id == TEACHER.account_id
    assert outcome.csrf_token == broker.sessions.csrf_token(outcome.session)
    post = WebRequest(
        "POST",
        "/grades",
        form=[("csrf_token", outcome.csrf_token)],
        cookies=cookies,
        remote_addr=IP,
    )
    assert isinstance(routes.require(post), Authenticated)
    refused = routes.require(WebRequest("POST", "/grades", cookies=cookies, remote_addr=IP))
    assert isinstance(refused, WebResponse)
    assert refused.status == 403
    assert refused.context["code"] == "session.csrf_invalid"


def test_a_session_used_from_another_ip_is_ended_and_explained(routes: AuthRoutes) -> None:
    cookies = log_in(routes)
    moved = WebRequest("GET", "/grades", cookies=cookies, remote_addr="198.51.100.7")
    outcome = routes.require(moved)
    assert isinstance(outcome, WebResponse)
    status, headers, body = render(routes, outcome)
    assert status == 401
    assert "с другого IP-адреса" in body
    assert any(c.startswith("__Host-sso_session=;") for c in headers["set-cookie"])
    assert isinstance(routes.require(get("/grades", cookies)), WebResponse)


def test_trusted_proxies_give_the_client_address(broker: Broker) -> None:
    routes = AuthRoutes(broker, WebConfig(trusted_proxies=["10.0.0.0/8"]))
    request = WebRequest(
        "GET", "/auth/login", headers={"x-forwarded-for": "203.0.113.5"}, remote_addr="10.1.2.3"
    )
    assert routes.visit(request).client.ip == ip_address("203.0.113.5")
    direct = WebRequest(
        "GET", "/auth/login", headers={"x-forwarded-for": "203.0.113.5"}, remote_addr=IP
    )
    assert routes.visit(direct).client.ip == ip_address(IP)


def test_config_is_checked() -> None:
    for prefix in ("auth", "/auth/", "//auth", "/auth?x"):
        with pytest.raises(ConfigError):
            WebConfig(prefix=prefix)
    with pytest.raises(ConfigError):
        WebConfig(after_login="https://elsewhere.example/")
    with pytest.raises(ConfigError):
        WebConfig(language="de")
    assert WebConfig(cookies=CookieSettings(secure=False)).cookies.session_cookie == "sso_session"


def test_host_templates_of_the_old_spelling_still_work(broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "_local_form.html").write_text(
        "{{ t1('organization') }}|{{ t1('choose_organization') }}|"
        "{% for org_id, name in organizations %}{{ org_id }};{% endfor %}|"
        "{% for org_id, name in organisations %}{{ org_id }};{% endfor %}",
        encoding="utf-8",
    )
    routes = AuthRoutes(broker, WebConfig(template_dirs=[tmp_path]))
    _, _, login = render(routes, routes.handle("login_page", get("/auth/login")))
    listed = "".join(f"{o.org_id};" for o in sorted(ORGS, key=lambda o: (o.name, o.org_id)))
    assert f"Организация|— выберите —|{listed}|{listed}" in login
