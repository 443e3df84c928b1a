"""The portal in SAML mode, checked against OIDC mode, at desktop size and on a phone:
the unconfirmed person's school login asks no code of the portal's, too many wrong codes
at the IdP end on the portal's own error page, the settings page names the state portal,
the account switch trusts the IdP's second factor, and the grade form kept over an expired
session comes back with its lists.

The pages are checked by their Russian texts and their structure (ids, roles, names)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from browser.support import (
    MODES,
    Site,
    at_idp,
    check_accessible,
    choose_account,
    esia_login,
    idp_password,
    in_diary,
    links_listed,
    local_login,
    login_page,
    on_second_factor,
    open_site,
    start_esia,
    submit,
)
from mock_idp.grants import MAX_CODE_ATTEMPTS

IDLE = timedelta(seconds=3)
COMMENT = "Контрольная работа, вариант 2"
REFUSED_BY_IDP = {"saml": "saml.status_not_success", "oidc": "oidc.access_denied"}


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)  # type: ignore[index]


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_unconfirmed_person_logs_in_at_school_once_without_a_portal_code(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    person = site.person("unconfirmed")
    esia_login(page, site, person)
    expect(page.locator("h1")).to_contain_text("Вход по логину школы")
    expect(page.locator(".notice")).to_contain_text("не подтверждена")
    check_accessible(page)
    local_login(page, person.org_id, person.login, person.password)
    # the code she gave at the IdP was her second factor: no code page of the portal's
    assert not on_second_factor(page), page.url
    in_diary(page, "Дневник")
    check_accessible(page)
    assert [link.account_id for link in site.links_of(person)] == list(person.accounts)


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_too_many_wrong_codes_at_the_idp_end_on_the_portals_page(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    person = site.person("linked")
    login_page(page, site)
    start_esia(page)
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Отменить вход")).to_have_count(1)
    check_accessible(page)
    idp_password(page, person)
    sent = site.idp.idp.last_code()
    wrong = "000000" if sent != "000000" else "111111"
    for left in range(MAX_CODE_ATTEMPTS - 1, 0, -1):
        page.fill("#code", wrong)
        submit(page, page.locator("form[action$='/login/code'] button[type=submit]"))
        expect(page.locator("main")).to_contain_text(f"Неверный код. Осталось попыток: {left}.")
    check_accessible(page)
    page.fill("#code", wrong)
    page.locator("form[action$='/login/code'] button[type=submit]").click()
    # the IdP answers the portal (SAML: a Response posted on by the page), which shows its page
    expect(page).to_have_url(re.compile("^" + re.escape(site.base_url)))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("body")).to_contain_text(f"Код ошибки: {REFUSED_BY_IDP[protocol]}")
    expect(page.locator("main")).to_contain_text("Госуслуг")
    expect(page.locator("main")).not_to_contain_text("too many")
    check_accessible(page)
    no_horizontal_scroll(page)
    refused = [e for e in site.portal.store.events() if e.code == REFUSED_BY_IDP[protocol]]
    assert refused, "the refusal is not in the audit trail"
    # what the IdP said is kept for the audit (the trail masks runs of digits like ESIA's
    # number, as it masks every document number)
    assert "too many wrong codes" in (refused[-1].detail or "")
    if protocol == "saml":
        assert "AuthnFailed" in (refused[-1].detail or "")
    way_back = page.locator("main a[href*='/auth/login']").first
    expect(way_back).to_be_visible()
    submit(page, way_back)
    expect(page.locator("h1")).to_contain_text("Вход")
    assert [link.account_id for link in site.links_of(person)] == list(
        person.accounts
    )  # nothing was unlinked


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_settings_title_the_state_portal_link_gosuslugi(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    person = site.person("linked")
    esia_login(page, site, person)
    in_diary(page, "Дневник")
    links = links_listed(page, site)
    expect(links).to_have_count(1)
    expect(links.first.locator("strong")).to_have_text("Госуслуги")
    expect(links.first).not_to_contain_text("http")
    check_accessible(page)
    no_horizontal_scroll(page)


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_switching_to_the_teacher_asks_no_code_after_the_idps_second_factor(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    person = site.person("teacher_parent")
    esia_login(page, site, person)
    choose_account(page, site.account_with_role(person, "parent"))
    assert not on_second_factor(page), page.url
    in_diary(page, "Дневник")
    switch = page.locator("form[action='/auth/switch']")
    switch.locator("select[name=account]").select_option(site.account_with_role(person, "teacher"))
    submit(page, switch.get_by_role("button", name="Сменить"))
    assert not on_second_factor(page), page.url
    in_diary(page, "Журнал")
    check_accessible(page)


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_grade_form_comes_back_with_its_lists_after_the_session_expired(
    page: Page, make_site: Callable[..., Site], protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size, idle_timeout=IDLE)
    person = site.person("teacher_parent")
    teacher = site.account_with_role(person, "teacher")
    esia_login(page, site, person)
    choose_account(page, teacher)
    in_diary(page, "Журнал")
    submit(page, page.locator("a[href^='/journal/']").first)
    form = page.locator("form#grade-form")
    pupil = form.locator("select[name=pupil] option").last.get_attribute("value")
    assert pupil
    form.locator("select[name=pupil]").select_option(pupil)
    form.locator("select[name=grade]").select_option("5")
    form.locator("[name=comment]").fill(COMMENT)

    time.sleep(IDLE.total_seconds() + 0.5)
    submit(page, form.locator("button[type=submit]"))
    expect(page).to_have_url(re.compile(r"/auth/login\?.*kept="))
    expect(page.locator("[role=status]")).to_contain_text("Сеанс истёк")
    check_accessible(page)

    start_esia(page)
    at_idp(page, site, person)
    choose_account(page, teacher)
    expect(page).to_have_url(re.compile(r"/journal/[^?]+\?restored="))
    expect(page.locator("#draft-notice")).to_contain_text("ещё не сохранена")
    restored = page.locator("form#grade-form")
    # the journal's own lists, not free-text fields
    expect(restored.locator("select[name=pupil]")).to_have_value(pupil)
    expect(restored.locator("select[name=grade]")).to_have_value("5")
    expect(restored.locator("textarea[name=comment]")).to_have_value(COMMENT)
    assert restored.locator("select[name=pupil] option").count() > 1
    check_accessible(page)
    no_horizontal_scroll(page)
    submit(page, restored.locator("button[type=submit]"))
    expect(page.locator("[role=status]")).to_contain_text("Оценка сохранена: 5")
