"""What a logged-in person does on the settings pages: link, unlink, enrol an
authenticator app, and switch between their accounts."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from browser.support import (
    Site,
    at_idp,
    check_accessible,
    choose_account,
    doc_shot,
    enter_code,
    esia_login,
    in_diary,
    links_listed,
    local_login,
    login_page,
    on_second_factor,
    pass_second_factor,
    sign_out,
    submit,
    totp_now,
)


def test_link_from_settings(page: Page, site: Site) -> None:
    person = site.person("unique")
    login_page(page, site)
    local_login(page, person.org_id, person.login, person.password)
    pass_second_factor(page, site, person)
    in_diary(page, "Дневник")
    expect(links_listed(page, site)).to_have_count(0)
    submit(page, page.get_by_role("link", name=re.compile("Связать учётную запись")).first)
    submit(page, page.locator("form[action*='/auth/link/'] button[type=submit]"))
    at_idp(page, site, person)
    expect(page).to_have_url(re.compile(r"/auth/settings\?done=linked$"))
    expect(page.locator("section[aria-labelledby=links-heading] li")).to_have_count(1)
    assert [link.account_id for link in site.links_of(person)] == list(person.accounts)


def test_unlink(page: Page, site: Site) -> None:
    person = site.person("linked")
    esia_login(page, site, person)
    in_diary(page, "Дневник")
    links = links_listed(page, site)
    expect(links).to_have_count(1)
    submit(page, links.first.locator("form[action$='/unlink'] button[type=submit]"))
    expect(page).to_have_url(re.compile(r"/auth/settings\?done=unlinked$"))
    expect(page.locator("[role=status]")).to_contain_text("отвязана")
    expect(page.locator("section[aria-labelledby=links-heading] li")).to_have_count(0)
    assert not site.links_of(person)


def test_totp_enrolment_and_login_with_it(page: Page, site: Site) -> None:
    person = site.person("unique")
    login_page(page, site)
    local_login(page, person.org_id, person.login, person.password)
    pass_second_factor(page, site, person)
    in_diary(page, "Дневник")

    page.goto(site.url("/auth/totp"))
    expect(page.locator(".qr svg")).to_be_visible()
    check_accessible(page)
    doc_shot(page, "totp.png")
    secret = page.locator("input[name=secret]").input_value()
    page.fill("#code", totp_now(secret))
    submit(page, page.locator("form[action$='/totp'] button[type=submit]"))
    expect(page).to_have_url(re.compile(r"/auth/settings\?done=totp$"))

    sign_out(page, site)
    local_login(page, person.org_id, person.login, person.password)
    assert on_second_factor(page), page.url
    expect(page.locator("main")).to_contain_text("приложения-аутентификатора")
    # the enrolment spent this time step; the next one is inside the accepted window
    enter_code(page, totp_now(secret, ahead=timedelta(seconds=30)))
    in_diary(page, "Дневник")


def test_account_switch(page: Page, site: Site) -> None:
    person = site.person("teacher_parent")
    esia_login(page, site, person)
    expect(page.locator("form[action$='/choose'] input[name=account]")).to_have_count(3)
    choose_account(page, site.account_with_role(person, "parent"))
    pass_second_factor(page, site, person)
    in_diary(page, "Дневник")

    switch = page.locator("form[action='/auth/switch']")
    switch.locator("select[name=account]").select_option(site.account_with_role(person, "teacher"))
    submit(page, switch.get_by_role("button", name="Сменить"))
    pass_second_factor(page, site, person)
    in_diary(page, "Журнал")
    expect(page.get_by_role("navigation", name="Аккаунт")).to_contain_text("учитель")
