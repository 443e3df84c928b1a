"""A teacher whose session was ended from another device sends the grade form: the login
page says the session was ended from another device and that the form was not saved
(keeping it would be wrong: after the next login it could be someone else's session)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
    portal_code,
    submit,
)

COMMENT = "Контрольная работа"


def _teacher_in(page: Page, site: Site) -> Any:
    person = site.person("locked_demo")
    login_page(page, site)
    local_login(page, person.org_id, person.login, person.password)
    portal_code(page, site, person)
    in_diary(page, "Журнал")
    return person


@pytest.mark.parametrize(("protocol", "size"), MODES)
def test_a_grade_sent_after_the_session_was_ended_elsewhere_is_not_saved(
    page: Page, make_site: Callable[..., Site], browser: Any, protocol: str, size: ViewportSize
) -> None:
    site = open_site(page, make_site, protocol, size)
    _teacher_in(page, site)
    submit(page, page.locator("a[href^='/journal/']").first)
    form = page.locator("form#grade-form")
    form.locator("[name=grade]").select_option("2")
    form.locator("[name=comment]").fill(COMMENT)

    other_context = browser.new_context(locale="ru-RU")
    try:
        other = other_context.new_page()
        other.set_viewport_size(size)
        _teacher_in(other, site)
        other.goto(site.url("/auth/settings"))
        # end the first browser's session: the one not marked as this one
        sessions = other.locator("section[aria-labelledby=sessions-heading] li")
        expect(sessions).to_have_count(2)
        first = sessions.filter(has_not=other.locator("strong"))
        submit(other, first.locator("button[type=submit]"))
        expect(other.locator("section[aria-labelledby=sessions-heading] li")).to_have_count(1)
    finally:
        other_context.close()

    submit(page, form.get_by_role("button", name=re.compile("Сохранить")))
    expect(page).to_have_url(re.compile(r"/auth/login\?ended=elsewhere-unsaved$"))
    notice = page.locator("[role=status]")
    expect(notice).to_contain_text("завершён с другого устройства")
    expect(notice).to_contain_text("не сохранена")
    check_accessible(page)
    _teacher_in(page, site)
    submit(page, page.locator("a[href^='/journal/']").first)
    expect(page.locator("table")).not_to_contain_text(COMMENT)
