"""One language at a time in the browser: the switch in the header of every page, the
choice kept across the login, and the way back to Russian."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from browser.support import (
    MODES,
    Site,
    check_accessible,
    in_diary,
    local_login,
    login_page,
    open_site,
    pass_second_factor,
    submit,
)


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_the_switch_turns_every_page_english_and_back(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    person = site.person("unique")
    login_page(page, site)
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    submit(page, page.get_by_role("link", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("body")).not_to_contain_text("Вход по логину школы")
    check_accessible(page)
    local_login(page, person.org_id, person.login, person.password)
    pass_second_factor(page, site, person)
    in_diary(page, "Diary")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check_accessible(page)
    submit(page, page.get_by_role("link", name="Русский"))
    in_diary(page, "Дневник")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
