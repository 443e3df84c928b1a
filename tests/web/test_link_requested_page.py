"""The page a person sees when a link from settings is queued for an administrator
(docs/reauthentication.md, "Queued link requests"), in Russian and in English, on every
framework."""

from __future__ import annotations

import attrs

from helpers.language import assert_one_language
from web.support import TEACHER, World, field

ANNA = 1000000103  # at the mock IdP: not the teacher whose school account is signed in


def request_link(world: World) -> str:
    assert world.local_login().status_code == 303
    confirm = world.browser.get("/auth/link/esia")
    to_idp = world.browser.post(
        "/auth/link/esia", data={"csrf_token": field(confirm.text, "csrf_token")}
    )
    assert to_idp.status_code == 303
    back = world.oidc_login_at(
        to_idp.headers["location"], oid=ANNA, scopes=("fullname", "birthdate")
    )
    assert back.status_code == 200, back.text
    return back.text


def test_a_queued_link_says_the_request_was_sent(world: World) -> None:
    world.broker.policy = attrs.evolve(world.broker.policy, queue_mismatched_links=True)
    page = request_link(world)
    assert "Ваш запрос отправлен администратору школы" in page
    assert 'href="/auth/settings"' in page
    assert_one_language(page, "ru")
    [kept] = world.store.pending()
    assert (kept.account_id, kept.subject) == (TEACHER.account_id, str(ANNA))
    assert world.store.links_for_account(TEACHER.account_id) == []


def test_the_page_in_english(world: World) -> None:
    world.broker.policy = attrs.evolve(world.broker.policy, queue_mismatched_links=True)
    world.browser.headers["Accept-Language"] = "en"
    page = request_link(world)
    assert "Your request was sent to the school administrator" in page
    assert_one_language(page, "en")
