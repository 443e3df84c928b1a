"""Recovery codes in the portal's settings: made once, shown once, and one of them signs
the person in when the phone with the authenticator app is not at hand."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from browser.support import (
    Site,
    check_accessible,
    enter_code,
    in_diary,
    local_login,
    login_page,
    on_second_factor,
    sign_out,
    submit,
    totp_now,
)


def test_settings_show_codes_once_and_one_signs_in(page: Page, site: Site) -> None:
    person = site.person("staff_totp")
    login_page(page, site)
    local_login(page, person.org_id, person.login, person.password)
    assert on_second_factor(page), page.url
    expect(page.locator("#recovery-hint")).to_contain_text("кодов восстановления")
    enter_code(page, totp_now(person.totp_secret))
    in_diary(page, "")

    page.goto(site.url("/auth/settings"))
    section = page.locator("section[aria-labelledby=recovery-heading]")
    expect(section).to_contain_text("Кодов нет.")
    submit(page, section.locator("button[type=submit]"))
    codes = page.locator("ol.recovery-codes code")
    expect(codes).to_have_count(10)
    check_accessible(page)
    code = codes.nth(3).inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), code

    page.goto(site.url("/auth/settings"))
    expect(page.locator("#recovery-state")).to_contain_text("Неиспользованных кодов: 10.")
    expect(page.locator("ol.recovery-codes")).to_have_count(0)  # shown once only

    sign_out(page, site)
    local_login(page, person.org_id, person.login, person.password)
    assert on_second_factor(page), page.url
    enter_code(page, code.lower())
    in_diary(page, "")
    page.goto(site.url("/auth/settings"))
    expect(page.locator("#recovery-state")).to_contain_text("Неиспользованных кодов: 9.")
