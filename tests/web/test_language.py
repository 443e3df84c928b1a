"""One language at a time: the catalogues, Accept-Language, and the switch on every page
(over Starlette, Flask and Django)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.language import CATALOGUE_DIRS, assert_one_language, messages
from sso_bridge.web import WebConfig
from sso_bridge.web.catalogues import translations
from sso_bridge.web.http import LANGUAGES
from sso_bridge.web.language import (
    MAX_ACCEPT_LANGUAGE_BYTES,
    MAX_ACCEPT_LANGUAGE_ENTRIES,
    accepted_languages,
    preferred_language,
)
from sso_bridge.web.rendering import Templates
from web.support import World

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9,ru;q=0.5"}


@pytest.mark.parametrize("domain", sorted(CATALOGUE_DIRS))
def test_every_message_is_in_every_catalogue_and_none_is_empty(domain: str) -> None:
    catalogues = {language: messages(domain, language) for language in LANGUAGES}
    ids = {language: set(found) for language, found in catalogues.items()}
    assert ids["ru"] == ids["en"], ids["ru"] ^ ids["en"]
    for language, found in catalogues.items():
        assert [key for key, text in found.items() if not text.strip()] == [], language
    for key, russian in catalogues["ru"].items():
        # the same {fields} in every language, so that t(key, **values) fills each in
        fields = set(re.findall(r"\{(\w+)\}", russian))
        assert fields == set(re.findall(r"\{(\w+)\}", catalogues["en"][key])), key


def test_the_catalogues_hold_the_languages_they_say() -> None:
    assert translations("ru").gettext("login_title") == "Вход"
    assert translations("en").gettext("login_title") == "Sign in"
    with pytest.raises(KeyError):
        translations("en").gettext("no_such_text")


def test_a_host_catalogue_adds_and_overrides_texts(tmp_path: Path) -> None:
    for language, words in (("ru", "Войти в дневник"), ("en", "Open the diary")):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "host.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
            f'msgid "login_title"\nmsgstr "{words}"\n',
            encoding="utf-8",
        )
    templates = Templates(WebConfig(locale_dirs=[tmp_path]))
    page = templates.environment.from_string("{{ t('login_title') }}|{{ _('or') }}")
    assert page.render(lang="ru") == "Войти в дневник|или"
    assert page.render(lang="en") == "Open the diary|or"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "ru"),
        ("", "ru"),
        ("en", "en"),
        ("en-GB,en;q=0.9,ru;q=0.5", "en"),
        ("ru;q=0.3, en;q=0.2", "ru"),
        ("de-DE, en;q=0.8", "en"),
        ("de, fr;q=0.5", "ru"),
        ("en;q=0, ru;q=0.1", "ru"),
        ("*", "ru"),
        ("en;q=abc, ru;q=0.4", "ru"),
        ("en;q=7", "ru"),
        ("EN-us", "en"),
        ("en<script>, ru", "ru"),
    ],
)
def test_accept_language_is_read_by_its_weights(header: str | None, language: str) -> None:
    assert preferred_language(header, "ru") == language


def test_accept_language_is_bounded_before_it_is_parsed() -> None:
    too_long = "en," + " " * MAX_ACCEPT_LANGUAGE_BYTES + "en"
    assert len(too_long) > MAX_ACCEPT_LANGUAGE_BYTES
    assert accepted_languages(too_long) == []
    assert preferred_language(too_long, "ru") == "ru"
    many = ",".join(["de"] * MAX_ACCEPT_LANGUAGE_ENTRIES + ["en"])
    assert len(accepted_languages(many)) == MAX_ACCEPT_LANGUAGE_ENTRIES
    assert preferred_language(many, "ru") == "ru"  # the entry past the limit is not read


def test_pages_are_russian_by_default_and_english_when_the_browser_prefers_it(
    world: World,
) -> None:
    russian = world.browser.get("/auth/login")
    assert russian.status_code == 200
    assert_one_language(russian.text, "ru")
    assert "Вход по логину школы" in russian.text
    english = world.browser.get("/auth/login", headers=ENGLISH)
    assert_one_language(english.text, "en")
    assert "Sign in with your school login" in english.text
    assert english.headers["content-language"] == "en"
    refused = world.browser.get("/auth/settings?x=1", headers={"Accept-Language": "en"})
    assert refused.status_code in (302, 303)  # no session: to the login page
    wrong = world.local_login(password="not-the-password-1")
    assert wrong.status_code == 401
    assert_one_language(wrong.text, "ru")
    world.browser.headers.update(ENGLISH)
    wrong = world.local_login(password="not-the-password-1")
    assert_one_language(wrong.text, "en")
    assert "Wrong organisation, login or password." in wrong.text


def _switch(page: str) -> str:
    found = re.search(r'<a class="language" href="([^"]+)" hreflang="(\w+)" lang="\2">', page)
    assert found is not None, page
    return found.group(1).replace("&amp;", "&")


def test_the_switch_on_the_page_keeps_the_choice(world: World) -> None:
    page = world.browser.get("/auth/login?kept=abc", headers={"Accept-Language": "ru"})
    switch = _switch(page.text)
    assert switch == "/auth/language?to=en&next=%2Fauth%2Flogin%3Fkept%3Dabc"
    moved = world.browser.get(switch)
    assert moved.status_code == 303
    assert moved.headers["location"] == "/auth/login?kept=abc"
    cookie = moved.headers["set-cookie"]
    assert cookie.startswith("sso_lang=en;")
    assert "SameSite=Lax" in cookie and "Path=/" in cookie and "Max-Age=" in cookie
    # the choice wins over the browser's preference
    english = world.browser.get("/auth/login", headers={"Accept-Language": "ru"})
    assert_one_language(english.text, "en")
    back = world.browser.get(_switch(english.text))
    assert back.status_code == 303
    assert_one_language(world.browser.get("/auth/login", headers=ENGLISH).text, "ru")
    # a signed-in person's pages carry the switch too, and follow the choice
    assert world.local_login().status_code == 303
    settings = world.browser.get("/auth/settings")
    assert_one_language(settings.text, "ru")
    world.browser.get(_switch(settings.text))
    assert_one_language(world.browser.get("/auth/settings").text, "en")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("to=de&next=/auth/login", "web.bad_language"),
        ("next=/auth/login", "web.bad_language"),
        ("to=en&next=//evil.example/", "web.bad_next"),
        ("to=en&next=https://evil.example/", "web.bad_next"),
        ("to=en&next=/%5Cevil.example", "web.bad_next"),
        ("to=en&next=/" + "a" * 3000, "web.bad_next"),
    ],
)
def test_the_switch_takes_only_known_languages_and_local_paths(
    world: World, query: str, code: str
) -> None:
    refused = world.browser.get("/auth/language?" + query)
    assert refused.status_code == 400
    assert code in refused.text
    assert "sso_lang" not in refused.headers.get("set-cookie", "")
    assert_one_language(refused.text, "ru")
    assert '/auth/language?to=en&amp;next=%2F"' in refused.text  # not back to itself
