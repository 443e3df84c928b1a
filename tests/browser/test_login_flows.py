"""Logging in to the school portal through the mock IdP: straight in, auto-linked, the
chooser, and the unconfirmed account that must log in locally once."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from browser.support import (
    PHONE,
    Site,
    at_idp,
    check_accessible,
    choose_account,
    doc_shot,
    esia_login,
    in_diary,
    links_listed,
    local_login,
    login_page,
    pass_second_factor,
    sign_out,
    start_esia,
)


def test_already_linked_person_goes_straight_in_on_a_phone(page: Page, site: Site) -> None:
    page.set_viewport_size(PHONE)
    person = site.person("linked")
    seeded = site.links_of(person)
    assert len(seeded) == 1
    login_page(page, site)
    check_accessible(page)
    doc_shot(page, "phone-login.png")
    start_esia(page)
    at_idp(page, site, person)
    in_diary(page, "Дневник")
    expect(page.get_by_role("navigation", name="Аккаунт")).to_contain_text("Попов")
    assert site.links_of(person) == seeded
    # the grades table fits the phone: every comment within the screen, no sideways scroll
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    comments = page.locator("td[data-label='Комментарий']")
    assert comments.count() > 0
    for index in range(comments.count()):
        box = comments.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(comments.first).to_be_visible()
    check_accessible(page)


def test_confirmed_unique_match_is_linked_automatically(page: Page, site: Site) -> None:
    person = site.person("unique")
    assert not site.links_of(person)
    login_page(page, site)
    check_accessible(page)
    doc_shot(page, "login.png")
    start_esia(page)
    at_idp(page, site, person)
    in_diary(page, "Дневник")
    check_accessible(page)
    assert [link.account_id for link in site.links_of(person)] == list(person.accounts)
    expect(links_listed(page, site)).to_have_count(1)
    check_accessible(page)
    doc_shot(page, "settings.png")


def test_several_matches_go_through_the_chooser_and_link_the_chosen_one(
    page: Page, site: Site
) -> None:
    person = site.person("teacher_parent")
    site.unlink_all(person)  # start from accounts that only match, none linked yet
    teacher = site.account_with_role(person, "teacher")
    esia_login(page, site, person)
    chooser = page.locator("form[action$='/choose']")
    expect(chooser.locator("input[name=account]")).to_have_count(3)
    expect(page.locator(".notice")).to_contain_text("будет связана")
    check_accessible(page)
    doc_shot(page, "chooser.png")
    choose_account(page, teacher)
    pass_second_factor(page, site, person)
    in_diary(page, "Журнал")
    doc_shot(page, "diary-teacher.png")
    assert [link.account_id for link in site.links_of(person)] == [teacher]
    expect(links_listed(page, site)).to_have_count(1)

    # the second login offers all three again, the teacher's marked as linked
    sign_out(page, site)
    start_esia(page)
    at_idp(page, site, person)
    chooser = page.locator("form[action$='/choose']")
    expect(chooser.locator("input[name=account]")).to_have_count(3)
    expect(chooser.locator(f".choice[data-account='{teacher}']")).to_have_attribute(
        "data-linked", "yes"
    )
    expect(chooser.locator(".choice[data-linked=no]")).to_have_count(2)
    expect(chooser.locator(".choice[data-linked=no] .link-state").first).to_contain_text(
        "ещё не связана"
    )
    expect(chooser.get_by_role("button", name="Не предлагать эту учётную запись")).to_have_count(3)
    check_accessible(page)
    parent = site.account_with_role(person, "parent")
    choose_account(page, parent)
    pass_second_factor(page, site, person)
    in_diary(page, "Дневник")
    assert sorted(link.account_id for link in site.links_of(person)) == sorted((teacher, parent))
    # the header's switcher offers the same set: the teacher's and the other parent account
    switcher = page.locator("form[action='/auth/switch'] select[name=account] option")
    expect(switcher).to_have_count(2)


def test_unconfirmed_account_logs_in_locally_once_and_is_linked(page: Page, site: Site) -> None:
    person = site.person("unconfirmed")
    esia_login(page, site, person)
    expect(page.locator("h1")).to_contain_text("Вход по логину школы")
    expect(page.locator(".notice")).to_contain_text("не подтверждена")
    check_accessible(page)
    local_login(page, person.org_id, person.login, person.password)
    # the IdP's SMS was the second factor: no code page of the portal's (the people table)
    in_diary(page, "Дневник")
    assert [link.account_id for link in site.links_of(person)] == list(person.accounts)
    expect(links_listed(page, site)).to_have_count(1)
