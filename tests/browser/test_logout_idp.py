"""Logging out of the portal ends the state-portal session too, so the next person at a
shared classroom computer is asked for the password at the IdP; in shared-computer mode
every login asks for it, logged out or not. Over OIDC and SAML."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.support import (
    Site,
    at_idp,
    in_diary,
    login_page,
    sign_out,
    start_esia,
    submit,
)

PROTOCOLS = ["oidc", "saml"]


def _signed_in(page: Page, site: Site, key: str) -> None:
    person = site.person(key)
    login_page(page, site)
    start_esia(page)  # a new browser at the IdP: the password page
    at_idp(page, site, person)
    in_diary(page, "Дневник")


def _to_idp_keeping_its_session(page: Page) -> None:
    """The «Войти через Госуслуги» button, the IdP's session of this browser kept."""
    submit(page, page.get_by_role("link", name=re.compile("Госуслуг")).first)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_logout_ends_the_state_portal_session(
    page: Page, make_site: Callable[..., Site], protocol: str
) -> None:
    site = make_site(protocol=protocol)
    _signed_in(page, site, "linked")
    sign_out(page, site)  # through the IdP and back to the login page
    start_esia(page, new_idp_browser=False)  # asserts the IdP's password page
    expect(page.locator("#password")).to_be_visible()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_without_the_idp_logout_the_idp_session_would_let_the_next_person_in(
    page: Page, make_site: Callable[..., Site], protocol: str
) -> None:
    # the control of the test above: only the portal's cookies gone, the IdP's session
    # answers at once and the previous person is back in the diary
    site = make_site(protocol=protocol)
    _signed_in(page, site, "linked")
    page.context.clear_cookies(name="sso_session")  # the portal's session only
    login_page(page, site)
    _to_idp_keeping_its_session(page)
    in_diary(page, "Дневник")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shared_computer_mode_asks_the_idp_for_the_password_every_time(
    page: Page, make_site: Callable[..., Site], protocol: str
) -> None:
    site = make_site(protocol=protocol, shared_computer=True)
    _signed_in(page, site, "linked")
    # the first person walks away without logging out; the next one starts a login
    page.context.clear_cookies(name="sso_session")
    login_page(page, site)
    start_esia(page, new_idp_browser=False)  # the IdP asks for the password again
    expect(page.locator("#password")).to_be_visible()
    at_idp(page, site, site.person("unique"))
    expect(page.get_by_role("navigation", name="Аккаунт")).to_contain_text("Кузнецова")
