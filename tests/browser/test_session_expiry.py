"""A session that expires while a teacher fills in a grade: after logging in again the
journal's own grade form comes back filled in (once), and saving it works."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Page, expect

from browser.support import (
    Site,
    at_idp,
    check_accessible,
    choose_account,
    doc_shot,
    esia_login,
    in_diary,
    pass_second_factor,
    start_esia,
    submit,
)

IDLE = timedelta(seconds=3)
COMMENT = "Ответ у доски, тема «Дроби»"


def test_grade_form_comes_back_after_the_session_expired(
    page: Page, make_site: Callable[..., Site]
) -> None:
    site = make_site(idle_timeout=IDLE)
    person = site.person("teacher_parent")
    teacher = site.account_with_role(person, "teacher")
    esia_login(page, site, person)
    choose_account(page, teacher)
    pass_second_factor(page, site, person)
    in_diary(page, "Журнал")
    submit(page, page.locator("a[href^='/journal/']").first)
    form = page.locator("form#grade-form")
    check_accessible(page)
    pupil = form.locator("[name=pupil] option").last.get_attribute("value")
    assert pupil
    form.locator("[name=pupil]").select_option(pupil)
    form.locator("[name=grade]").select_option("4")
    form.locator("[name=comment]").fill(COMMENT)

    time.sleep(IDLE.total_seconds() + 0.5)
    submit(page, form.get_by_role("button", name=re.compile("Сохранить")))
    expect(page).to_have_url(re.compile(r"/auth/login\?.*kept="))
    expect(page.locator("[role=status]")).to_contain_text("Сеанс истёк")

    start_esia(page)
    at_idp(page, site, person)
    choose_account(page, teacher)
    pass_second_factor(page, site, person)
    # the journal's own form, its lists and all, filled in with what was kept; not saved yet
    expect(page).to_have_url(re.compile(r"/journal/[^?]+\?restored="))
    expect(page.locator("#draft-notice")).to_contain_text("ещё не сохранена")
    expect(page.locator("table")).not_to_contain_text(COMMENT)
    restored = page.locator("form#grade-form")
    expect(restored.locator("select[name=pupil]")).to_have_value(pupil)
    expect(restored.locator("select[name=grade]")).to_have_value("4")
    expect(restored.locator("textarea[name=comment]")).to_have_value(COMMENT)
    check_accessible(page)
    doc_shot(page, "grade-form-restored.png")
    submit(page, restored.locator("button[type=submit]"))
    expect(page.locator("[role=status]")).to_contain_text("Оценка сохранена: 4")
    expect(page.locator("table")).to_contain_text(COMMENT)


def test_the_kept_grade_form_fills_in_once(page: Page, make_site: Callable[..., Site]) -> None:
    site = make_site(idle_timeout=IDLE)
    person = site.person("teacher_parent")
    teacher = site.account_with_role(person, "teacher")
    esia_login(page, site, person)
    choose_account(page, teacher)
    pass_second_factor(page, site, person)
    submit(page, page.locator("a[href^='/journal/']").first)
    form = page.locator("form#grade-form")
    form.locator("[name=grade]").select_option("2")
    form.locator("[name=comment]").fill(COMMENT)
    time.sleep(IDLE.total_seconds() + 0.5)
    submit(page, form.get_by_role("button", name=re.compile("Сохранить")))
    start_esia(page)
    at_idp(page, site, person)
    choose_account(page, teacher)
    pass_second_factor(page, site, person)
    expect(page.locator("textarea[name=comment]")).to_have_value(COMMENT)
    page.reload()  # the same address again: the kept form was taken once
    expect(page.locator("#draft-notice")).to_have_count(0)
    expect(page.locator("textarea[name=comment]")).to_have_value("")
