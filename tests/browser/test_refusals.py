"""Refusals a person meets in the browser: too many wrong codes, a session used from
another address, a local login locked after failed passwords."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from browser.support import (
    Site,
    check_accessible,
    enter_code,
    error_code_shown,
    esia_login,
    explanation,
    in_diary,
    local_login,
    login_page,
    on_second_factor,
)


def test_five_wrong_sms_codes_end_the_login(page: Page, site: Site) -> None:
    person = site.person("unconfirmed")
    login_page(page, site)
    local_login(page, person.org_id, person.login, person.password)
    assert on_second_factor(page), page.url
    check_accessible(page)
    sent = site.portal.sender.last_code_for(person.phone)
    wrong = "000000" if sent != "000000" else "111111"
    for left in (4, 3, 2, 1):
        enter_code(page, wrong)
        expect(page.locator("#code-error")).to_contain_text(explanation("mfa.wrong_code"))
        expect(page.locator("#attempts")).to_contain_text(f"Осталось попыток: {left}.")
    enter_code(page, wrong)
    error_code_shown(page, "mfa.too_many_attempts")
    check_accessible(page)


def test_session_ends_when_the_ip_changes(page: Page, site: Site) -> None:
    person = site.person("linked")
    esia_login(page, site, person)
    in_diary(page, "Дневник")
    page.context.set_extra_http_headers({"X-Forwarded-For": "203.0.113.7"})
    page.goto(site.url("/diary"))
    error_code_shown(page, "session.ip_changed")
    page.goto(site.url("/diary"))
    expect(page).to_have_url(re.compile(r"/auth/login"))


def test_local_login_locks_after_failed_passwords(page: Page, site: Site) -> None:
    person = site.person("locked_demo")
    login_page(page, site)
    error = page.locator("#local-error")
    locked = explanation("auth.locked")
    for _ in range(5):
        local_login(page, person.org_id, person.login, "Wrong-password-9")
        expect(error).to_be_visible()
    expect(error).to_contain_text(locked)
    local_login(page, person.org_id, person.login, person.password)
    expect(error).to_contain_text(locked)
    assert not on_second_factor(page)
