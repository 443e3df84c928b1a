"""The operator's console in Chromium: find an account, open it, end its sessions after
the confirmation page; unlink; approve a link request; Russian and English; no horizontal
scroll at 390x844; no serious or critical axe finding on any page.

One console for the module: a Starlette host whose operators sign in at its own
``/host/sign-in`` (a signed cookie, standing in for the host's admin session). With
SSO_BRIDGE_SCREENSHOTS=1 the pages are saved to docs/img/console-*.png.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from browser.support import DESKTOP, PHONE, PortalServer, check_accessible, doc_shot, submit
from helpers.accounts import ISSUER, KEY, ORGS, make_account
from helpers.broker import CHEAP_HASHER
from mock_idp.server import free_port
from sso_bridge.broker import Broker
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.requests import InMemoryLinkRequestStore, LinkRequests
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender
from sso_bridge.sessions import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, SqlStore, open_store
from sso_bridge.web import WebConfig
from sso_bridge.web import starlette as web_starlette
from sso_bridge.web.console import ConsoleConfig

HOST_KEY = b"console-browser-tests-host-key!!"
ADMIN_COOKIE = "host_admin"
TEACHER = make_account(
    "t-anna",
    "sch1",
    login="kuznetsova",
    roles=("teacher",),
    last_name="Кузнецова",
    first_name="Анна",
    middle_name="Сергеевна",
    birth_date=date(1988, 2, 2),
)
PARENT = make_account(
    "p-oleg",
    "sch2",
    login="orlov",
    roles=("parent",),
    last_name="Орлов",
    first_name="Олег",
    middle_name=None,
    birth_date=date(1979, 7, 30),
)
PUPIL = make_account(
    "c-ivan",
    "sch3",
    login="ivanov.i",
    roles=("pupil",),
    last_name="Иванов",
    first_name="Иван",
    middle_name="Петрович",
    birth_date=date(2011, 5, 5),
)
OLD_BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def _signed(operator: str) -> str:
    mac = hmac.new(HOST_KEY, operator.encode(), hashlib.sha256).hexdigest()
    return f"{operator}.{mac}"


def host_operator(request: Request) -> str | None:
    """The host's role check: a valid signed admin cookie names the operator."""
    operator, _, mac = request.cookies.get(ADMIN_COOKIE, "").rpartition(".")
    if operator and hmac.compare_digest(_signed(operator), f"{operator}.{mac}"):
        return operator
    return None


def sign_in(request: Request) -> Response:
    response = RedirectResponse("/auth/console", 303)
    response.set_cookie(ADMIN_COOKIE, _signed("olga"), httponly=True, samesite="lax")
    return response


class Console:
    """The served host, its stores and the broker under the console."""

    def __init__(self, path: Path) -> None:
        self.store: SqlStore = open_store(f"sqlite:///{path}", KEY)
        self.store.import_accounts([TEACHER, PARENT, PUPIL], ORGS)
        self.requests = InMemoryLinkRequestStore()
        self.broker = Broker(
            directory=self.store,
            links=self.store,
            audit=self.store,
            store=InMemoryEphemeralStore(),
            credentials=InMemoryCredentialStore(),
            sender=OutboxSender(),
            secret=b"console-browser-tests-secret-32b!",
            password_hasher=CHEAP_HASHER,
        )
        console = ConsoleConfig(host_operator, link_requests=self.requests, page_size=8)
        config = WebConfig(cookies=CookieSettings(secure=False), console=console)
        app = Starlette(
            routes=[
                web_starlette.auth_routes(self.broker, config),
                Route("/host/sign-in", sign_in),
                Route("/", lambda request: PlainTextResponse("home")),
            ]
        )
        self.server = PortalServer(type("Host", (), {"app": app})(), free_port())
        self.base_url = self.server.base_url
        self.linker = Linker(self.store, self.store, self.store)

    def url(self, path: str) -> str:
        return self.base_url + path

    def seed(self) -> None:
        """Sessions, links, a request and some history, for the pages to show."""
        now = datetime.now(UTC)
        for n, agent in enumerate((OLD_BROWSER, "Mozilla/5.0 (iPhone) Safari/604.1")):
            self.broker.sessions.start(
                TEACHER.account_id,
                ip=f"203.0.113.{n + 7}",
                user_agent=agent,
                now=now,
                method="local",
            )
        self.linker.link_admin(
            ISSUER, "1000000103", TEACHER.account_id, RequestContext("admin:olga")
        )
        self.linker.link_admin(
            ISSUER, "1000000201", PARENT.account_id, RequestContext("admin:olga")
        )
        self.broker.passwords.set_password(TEACHER.account_id, "Uchitel-2024", now)
        for _ in range(3):
            self.broker.credentials.record_failed_login(TEACHER.account_id, now, 5, None)
        queue = LinkRequests(self.requests, self.linker, self.store)
        queue.submit(PUPIL.account_id, ISSUER, "1000000307", "birth_date", ip="198.51.100.4")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    served = Console(tmp_path_factory.mktemp("console") / "console.db")
    served.seed()
    served.server.start()
    yield served
    served.server.stop()
    served.store.close()


def operator_page(page: Page, console: Console) -> None:
    """Sign in at the host as an operator: the console's search page."""
    page.goto(console.url("/host/sign-in"))
    expect(page.locator("h1")).to_have_text("Поиск учётной записи")


def no_horizontal_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} scrolls sideways by {wide}px"


def checked(page: Page, shot: str | None = None) -> None:
    """The page as it is now: accessible, no sideways scroll, and its picture if asked."""
    check_accessible(page)
    no_horizontal_scroll(page)
    if shot is not None:
        doc_shot(page, shot)


def test_without_the_hosts_role_the_console_is_refused(page: Page, console: Console) -> None:
    answer = page.goto(console.url("/auth/console"))
    assert answer is not None and answer.status == 403
    assert "Поиск" not in page.content()


def on_a_phone(page: Page, shot: str | None = None) -> None:
    """The same page at 390x844: no sideways scroll (and its picture if asked)."""
    page.set_viewport_size(PHONE)
    no_horizontal_scroll(page)
    if shot is not None:
        doc_shot(page, shot)
    page.set_viewport_size(DESKTOP)


def test_find_an_account_and_end_its_sessions(page: Page, console: Console) -> None:
    operator_page(page, console)
    checked(page, "console-search.png")
    on_a_phone(page, "console-search-phone.png")
    form = page.locator("form[aria-labelledby=by-name-heading]")
    form.get_by_label("Фамилия").fill("кузнецова")
    form.get_by_label("Имя", exact=True).fill("АННА")
    form.get_by_label("Дата рождения").fill("1988-02-02")
    submit(page, form.get_by_role("button", name="Найти"))
    results = page.locator("section[aria-labelledby=results-heading] tbody tr")
    expect(results).to_have_count(1)
    checked(page)
    on_a_phone(page)
    submit(page, results.first.get_by_role("link", name="kuznetsova"))
    expect(page.locator("h1")).to_have_text("Учётная запись kuznetsova")
    sessions = page.locator("section[aria-labelledby=sessions-heading] tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("203.0.113.")
    checked(page, "console-account.png")
    on_a_phone(page, "console-account-phone.png")
    submit(page, page.get_by_role("button", name="Завершить все сеансы"))
    expect(page.locator("h1")).to_have_text("Подтвердите действие")
    assert len(console.broker.sessions.sessions_of(TEACHER.account_id, datetime.now(UTC))) == 2
    checked(page, "console-confirm.png")
    on_a_phone(page, "console-confirm-phone.png")
    submit(page, page.get_by_role("button", name="Завершить все сеансы"))
    expect(page.locator("[role=status]")).to_have_text("Все сеансы завершены.")
    expect(sessions).to_have_count(0)
    assert console.broker.sessions.sessions_of(TEACHER.account_id, datetime.now(UTC)) == []
    timeline = page.locator("section[aria-labelledby=timeline-heading] tbody tr")
    expect(timeline.first).to_contain_text("sessions_ended")
    expect(timeline.first).to_contain_text("operator:olga")


def test_unlink_after_confirming(page: Page, console: Console) -> None:
    operator_page(page, console)
    form = page.locator("form[aria-labelledby=by-login-heading]")
    form.get_by_label("Организация").select_option("sch2")
    form.get_by_label("Логин").fill("orlov")
    submit(page, form.get_by_role("button", name="Найти"))
    submit(page, page.get_by_role("link", name="orlov"))
    links = page.locator("section[aria-labelledby=links-heading] tbody tr")
    expect(links).to_have_count(1)
    submit(page, links.first.get_by_role("button", name="Отвязать"))
    expect(page.locator("main")).to_contain_text("1000000201")
    cancel = page.get_by_role("link", name="Отмена")
    submit(page, cancel)
    expect(links).to_have_count(1)  # cancelled: still there
    submit(page, links.first.get_by_role("button", name="Отвязать"))
    submit(page, page.get_by_role("button", name="Отвязать"))
    expect(page.locator("[role=status]")).to_have_text("Связь удалена.")
    expect(page.locator("section[aria-labelledby=links-heading]")).to_contain_text("Связей нет.")
    assert console.store.links_for_account(PARENT.account_id) == []
    page.goto(console.url("/auth/console/account?id=nobody"))
    expect(page.locator("main")).to_contain_text("Код ошибки: account.not_found")
    checked(page)
    on_a_phone(page)


def test_approve_a_link_request_in_english(page: Page, console: Console) -> None:
    operator_page(page, console)
    submit(page, page.get_by_role("link", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    submit(page, page.get_by_role("link", name="Link requests"))
    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("birth_date")
    checked(page)
    on_a_phone(page)
    submit(page, rows.first.get_by_role("button", name="Approve"))
    expect(page.locator("h1")).to_have_text("Confirm the action")
    submit(page, page.get_by_role("button", name="Approve"))
    expect(page.locator("[role=status]")).to_have_text(
        "The request was approved and the link made."
    )
    expect(page.locator("main")).to_contain_text("No pending requests.")
    assert [link.subject for link in console.store.links_for_account(PUPIL.account_id)] == [
        "1000000307"
    ]
    submit(page, page.get_by_role("link", name="Русский"))
    expect(page.locator("h1")).to_have_text("Запросы на связывание")
    doc_shot(page, "console-requests.png")
