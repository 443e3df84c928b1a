"""Driving the reference school portal in Chromium: the portal served on a loopback port,
and the steps a person takes on its pages, the mock IdP's and the auth pages'."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Locator, Page, ViewportSize, expect

from mock_idp.paths import BROWSER_COOKIE
from mock_idp.server import RunningIdP
from sso_bridge.mfa import decode_secret, totp
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.web.texts import error_text

ROOT = Path(__file__).resolve().parents[2]
FAILURE_SHOTS = ROOT / "build" / "browser"
DOC_IMAGES = ROOT / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
DESKTOP: ViewportSize = {"width": 1000, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
MODES = [
    pytest.param("saml", DESKTOP, id="saml-desktop"),
    pytest.param("saml", PHONE, id="saml-phone"),
    pytest.param("oidc", DESKTOP, id="oidc-desktop"),
    pytest.param("oidc", PHONE, id="oidc-phone"),
]
"""The portal's modes for tests that must hold in each: protocol and screen size."""
SERIOUS = frozenset({"serious", "critical"})


class PortalServer:
    """A built portal served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, portal: Any, port: int) -> None:
        self.portal = portal
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            portal.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="portal", daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the portal did not start on {self.base_url}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Site:
    """One test's portal, its seeded people (by key) and the mock IdP it logs in at."""

    def __init__(self, server: PortalServer, people: Iterable[Any], idp: RunningIdP) -> None:
        self.server = server
        self.portal = server.portal
        self.base_url = server.base_url
        self.people = {p.key: p for p in people}
        self.idp = idp

    def url(self, path: str) -> str:
        return self.base_url + path

    def person(self, key: str) -> Any:
        return self.people[key]

    def account_with_role(self, person: Any, role: str) -> str:
        """The id of ``person``'s local account with ``role``."""
        for account_id in person.accounts:
            account = self.portal.store.get_account(account_id)
            if account is not None and role in account.roles:
                return str(account_id)
        raise AssertionError(f"{person.key} has no {role} account")

    def links_of(self, person: Any) -> list[Any]:
        """The links of ``person``'s federated identity at the IdP (over the portal's
        protocol), as stored."""
        issuer = self.portal.settings.idp_issuer
        return list(self.portal.store.links_for_subject(issuer, str(person.oid)))

    def unlink_all(self, person: Any) -> None:
        """Remove the links the region was seeded with for ``person``, as an admin would."""
        store = self.portal.store
        issuer, subject = self.portal.settings.idp_issuer, str(person.oid)
        now = datetime.now(UTC)
        for link in store.links_for_subject(issuer, subject):
            event = AuditEvent(AuditAction.UNLINK, now, "test", issuer=issuer, subject=subject)
            store.remove_link(issuer, subject, link.account_id, event)
        assert not store.links_for_subject(issuer, subject)


# -- checks and pictures ---------------------------------------------------------------------


def check_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = Axe().run(page)
    assert results.response["passes"], f"axe-core checked nothing on {page.url}"
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in bad
    ]
    assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(summary)


def doc_shot(page: Page, name: str) -> None:
    """Save a documentation screenshot to docs/img/ when SSO_BRIDGE_SCREENSHOTS=1."""
    if os.environ.get("SSO_BRIDGE_SCREENSHOTS") != "1":
        return
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOC_IMAGES / name), full_page=True)


def error_code_shown(page: Page, code: str) -> None:
    """The page is a refusal naming ``code``."""
    expect(page.locator("body")).to_contain_text(f"Код ошибки: {code}")


def explanation(code: str) -> str:
    """The Russian explanation the auth pages show for ``code``."""
    pair = error_text(code)
    assert pair is not None, f"no explanation for {code}"
    return pair[0]


# -- navigation ------------------------------------------------------------------------------


def submit(page: Page, button: Locator) -> None:
    """Click ``button`` and wait until the page it leads to has loaded."""
    with page.expect_navigation():
        button.click()


def path_of(page: Page) -> str:
    match = re.match(r"https?://[^/]+(/[^?#]*)", page.url)
    return match.group(1) if match else page.url


def login_page(page: Page, site: Site) -> None:
    page.goto(site.url("/auth/login"))
    expect(page.locator("h1")).to_contain_text("Вход")


def start_esia(page: Page, *, new_idp_browser: bool = True) -> None:
    """On the portal's login page: the "Войти через Госуслуги" button, to the IdP's login
    page. ``new_idp_browser`` forgets the IdP's browser cookie first, so that no IdP session
    (single sign-on) answers without the login page; pass False to keep it."""
    if new_idp_browser:
        page.context.clear_cookies(name=BROWSER_COOKIE)
    submit(page, page.get_by_role("link", name=re.compile("Госуслуг")).first)
    expect(page.locator("#login")).to_be_visible()


def idp_password(page: Page, person: Any) -> None:
    """On the mock IdP's login page: login and password."""
    page.fill("#login", person.esia_login)
    page.fill("#password", person.esia_password)
    submit(page, page.locator("form[action$='/login'] button[type=submit]"))
    expect(page.locator("#code")).to_be_visible()


def idp_code(page: Page, site: Site, person: Any) -> None:
    """On the mock IdP's code page: the SMS code from its outbox, or the TOTP code."""
    if person.esia_second_factor == "totp":
        known = site.idp.idp.provider.people.by_login(person.esia_login)
        assert known is not None and known.totp_secret, person.key
        code = totp(decode_secret(known.totp_secret), int(time.time()))
    else:
        code = site.idp.idp.last_code()
    page.fill("#code", code)
    submit(page, page.locator("form[action$='/login/code'] button[type=submit]"))


def at_idp(page: Page, site: Site, person: Any) -> None:
    """Log in at the mock IdP (both steps) and come back to the portal."""
    idp_password(page, person)
    idp_code(page, site, person)
    # over SAML the IdP's page posts the answer on by itself (HTTP-POST binding)
    expect(page).to_have_url(re.compile("^" + re.escape(site.base_url)))


def esia_login(page: Page, site: Site, person: Any) -> None:
    """From the portal's login page through the IdP and back (the portal's page next)."""
    login_page(page, site)
    start_esia(page)
    at_idp(page, site, person)


def local_login(page: Page, org_id: str, login: str, password: str) -> None:
    """Fill and send the local login form (organisation, login, password)."""
    form = page.locator("form[action$='/local']")
    org = form.locator("#org")
    if org.evaluate("e => e.tagName") == "SELECT":
        org.select_option(org_id)
    else:
        org.fill(org_id)
    form.locator("#login").fill(login)
    form.locator("#password").fill(password)
    submit(page, form.locator("button[type=submit]"))


def on_second_factor(page: Page) -> bool:
    return page.locator("form[action$='/second-factor']").count() > 0


def enter_code(page: Page, code: str) -> None:
    form = page.locator("form[action$='/second-factor']")
    form.locator("#code").fill(code)
    submit(page, form.locator("button[type=submit]"))


def portal_code(page: Page, site: Site, person: Any) -> None:
    """On the portal's second-factor page: the code the portal sent to the person."""
    code = site.portal.sender.last_code_for(person.phone)
    assert code is not None, f"no code was sent to {person.key}"
    enter_code(page, code)


def choose_account(page: Page, account_id: str) -> None:
    """On the chooser: pick ``account_id`` and go on."""
    chooser = page.locator("form[action$='/choose']")
    chooser.locator(f"input[name=account][value='{account_id}']").check()
    submit(page, chooser.locator("button[type=submit]:not([name=hide])"))


def pass_second_factor(page: Page, site: Site, person: Any) -> None:
    """If the portal asks for its second factor, give the code sent to the person."""
    if on_second_factor(page):
        portal_code(page, site, person)


def totp_now(secret_base32: str, ahead: timedelta = timedelta(0)) -> str:
    """The TOTP code of a base32 secret for now (+ ``ahead``)."""
    at = datetime.now(UTC) + ahead
    return totp(decode_secret(secret_base32), int(at.timestamp()))


def in_diary(page: Page, heading: str) -> None:
    """The diary page, its heading showing ``heading`` ("Дневник" or "Журнал")."""
    expect(page).to_have_url(re.compile(r"/diary(\?.*)?$"))
    expect(page.locator("h1")).to_contain_text(heading)


def links_listed(page: Page, site: Site) -> Locator:
    """The settings page's list of linked accounts (opens the settings page)."""
    page.goto(site.url("/auth/settings"))
    return page.locator("section[aria-labelledby=links-heading] li")


def sign_out(page: Page, site: Site) -> None:
    page.goto(site.url("/auth/settings"))
    submit(page, page.locator("main form[action$='/logout'] button[type=submit]"))
    expect(page).to_have_url(re.compile(r"/auth/login"))


def open_site(
    page: Page, make_site: Any, protocol: str, size: ViewportSize, **options: Any
) -> Site:
    """The portal over ``protocol`` (``oidc``, ``saml``), seen at ``size``."""
    page.set_viewport_size(size)
    site: Site = make_site(protocol=protocol, **options)
    return site
