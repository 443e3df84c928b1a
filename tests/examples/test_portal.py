"""The portal over the seeded region, with the mock IdP of idp.yaml running: a whole OIDC
login through the IdP's own pages, the chooser and the account switcher, a grade entered
in a journal, and the refusal pages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import httpx
import pytest
from school_portal.portal import (
    Portal,
    PortalSettings,
    build_portal,
    oidc_client_registration,
    saml_sp_metadata,
)
from school_portal.seed import PEOPLE
from starlette.testclient import TestClient

from helpers.language import assert_one_language
from helpers.seeded import seeded_region
from mock_idp.server import RunningIdP

IDP_YAML = Path(__file__).resolve().parents[2] / "examples" / "school_portal" / "idp.yaml"
BASE = "http://testserver"
BY_KEY = {p.key: p for p in PEOPLE}


@attrs.define
class Demo:
    idp: RunningIdP
    portal: Portal
    browser: TestClient


@pytest.fixture(scope="module")
def idp() -> Iterator[RunningIdP]:
    with RunningIdP(IDP_YAML) as running:
        yield running


@pytest.fixture
def demo(idp: RunningIdP, tmp_path: Path) -> Iterator[Demo]:
    db = tmp_path / "demo.db"
    seeded_region(db)
    settings = PortalSettings(
        db_path=db, idp_url=idp.base_url, base_url=BASE, trusted_proxies=("127.0.0.1/32",)
    )
    idp.idp.add_client(oidc_client_registration(settings))
    portal = build_portal(settings)
    with TestClient(portal.app, client=("127.0.0.1", 50000), follow_redirects=False) as browser:
        yield Demo(idp, portal, browser)
    portal.store.close()


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found is not None, f"no field {name!r} in:\n{page}"
    return html.unescape(found.group(1))


def _login_at_idp(demo: Demo, key: str) -> httpx.Response:
    """Through the mock IdP's own pages as ``key``; the portal's answer to the callback."""
    person = BY_KEY[key]
    to_idp = demo.browser.get("/auth/login/esia")
    assert to_idp.status_code == 302, to_idp.text
    with httpx.Client(follow_redirects=False, timeout=10) as at_idp:
        page = at_idp.get(to_idp.headers["location"])
        page = at_idp.post(
            demo.idp.base_url + "/login",
            data={
                "txn": _field(page.text, "txn"),
                "login": person.esia_login or "",
                "password": person.esia_password or "",
            },
        )
        done = at_idp.post(
            demo.idp.base_url + "/login/code",
            data={"txn": _field(page.text, "txn"), "code": demo.idp.idp.last_code()},
        )
    assert done.status_code == 302, done.text
    back = urlsplit(done.headers["location"])
    return demo.browser.get(f"{back.path}?{back.query}")


def test_the_linked_person_goes_straight_to_the_diary(demo: Demo) -> None:
    answer = _login_at_idp(demo, "linked")
    assert answer.status_code in (302, 303), answer.text
    assert answer.headers["location"] == "/diary"
    page = demo.browser.get("/diary")
    assert page.status_code == 200
    assert re.search(r"<h1>Дневник[^<]*</h1>", page.text)
    assert "Попова Вера" in page.text
    assert '<nav aria-label="Аккаунт">' in page.text
    assert 'action="/auth/switch"' not in page.text  # one account: nothing to switch to


def test_a_session_used_from_another_ip_is_ended_and_the_page_says_so(demo: Demo) -> None:
    _login_at_idp(demo, "linked")
    moved = demo.browser.get("/diary", headers={"X-Forwarded-For": "203.0.113.7"})
    assert "session.ip_changed" in moved.text
    assert "другого IP-адреса" in moved.text
    assert demo.browser.get("/diary").headers["location"].startswith("/auth/login")


def test_home_sends_a_stranger_to_the_login_page_and_a_signed_in_one_to_the_diary(
    demo: Demo,
) -> None:
    first = demo.browser.get("/")
    assert first.headers["location"].startswith("/auth/login")
    login = demo.browser.get(first.headers["location"])
    assert "Войти через Госуслуги" in login.text
    _login_at_idp(demo, "linked")
    assert demo.browser.get("/").headers["location"] == "/diary"


def test_the_teacher_parent_chooses_an_account_then_switches(demo: Demo) -> None:
    chooser = _login_at_idp(demo, "teacher_parent")
    assert chooser.status_code == 200, chooser.text
    assert chooser.text.count('name="account"') == 3
    chosen = demo.browser.post(
        "/auth/choose", data={"step_id": _field(chooser.text, "step_id"), "account": "t-smirnova"}
    )
    assert chosen.headers["location"] == "/diary"
    journal = demo.browser.get("/diary")
    assert "<h1>Журнал</h1>" in journal.text
    assert 'action="/auth/switch"' in journal.text
    assert journal.text.count('<option value="p-smirnova-') == 2
    switched = demo.browser.post(
        "/auth/switch",
        data={"account": "p-smirnova-l2", "csrf_token": _field(journal.text, "csrf_token")},
    )
    assert switched.status_code == 303, switched.text
    diary = demo.browser.get(switched.headers["location"])
    assert re.search(r"<h1>Дневник[^<]*</h1>", diary.text)
    assert "Смирнова Алиса" in diary.text


def _local_login(demo: Demo, key: str, password: str | None = None) -> httpx.Response:
    person = BY_KEY[key]
    page = demo.browser.get("/auth/login")
    form = {
        "step": _field(page.text, "step_id"),
        "org": person.org_id or "",
        "login": person.login or "",
        "password": password or person.password or "",
    }
    return demo.browser.post("/auth/local", data=form)


def test_a_teacher_enters_a_grade(demo: Demo) -> None:
    code_page = _local_login(demo, "locked_demo")
    phone = BY_KEY["locked_demo"].phone
    assert phone is not None
    code = demo.portal.sender.last_code_for(phone)
    assert code is not None
    done = demo.browser.post(
        "/auth/second-factor", data={"step_id": _field(code_page.text, "step_id"), "code": code}
    )
    assert done.headers["location"] == "/diary"
    page = demo.browser.get("/journal/lyc2-9a")
    assert 'id="grade-form"' in page.text
    saved = demo.browser.post(
        "/journal/lyc2-9a",
        data={
            "pupil": "vera",
            "grade": "4",
            "comment": "лабораторная",
            "csrf_token": _field(page.text, "csrf_token"),
        },
    )
    assert saved.status_code == 200
    assert "Оценка сохранена" in saved.text
    assert "4 (лабораторная)" in saved.text
    foreign = demo.browser.get("/journal/sch17-7a")
    assert foreign.status_code == 404
    assert "portal.class_unavailable" in foreign.text


def test_five_wrong_passwords_lock_the_account_and_the_page_says_so(demo: Demo) -> None:
    for _ in range(5):
        answer = _local_login(demo, "locked_demo", password="Wrong-pass-1")
    error = re.search(r'<p class="error"[^>]*>(.*?)</p>', answer.text, re.S)
    assert error is not None, answer.text
    assert "заблокирована после нескольких неверных паролей" in error.group(1)


def test_a_blocked_account_is_told_whom_to_ask(demo: Demo) -> None:
    answer = _local_login(demo, "blocked")
    assert answer.status_code == 403
    assert "Эта школьная учётная запись заблокирована" in answer.text


def test_the_portal_can_use_saml_instead(idp: RunningIdP, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seeded_region(db)
    settings = PortalSettings(db_path=db, idp_url=idp.base_url, base_url=BASE, protocol="saml")
    idp.idp.add_service_provider({"metadata": saml_sp_metadata(settings)})
    portal = build_portal(settings)
    try:
        with TestClient(portal.app, client=("127.0.0.1", 50000), follow_redirects=False) as web:
            assert "Войти через Госуслуги" in web.get("/auth/login").text
            to_idp = web.get("/auth/login/esia")
        assert to_idp.status_code == 302
        assert to_idp.headers["location"].startswith(idp.base_url + "/idp/profile/SAML2/")
    finally:
        portal.store.close()


def test_the_unconfirmed_person_logs_in_with_one_school_login_and_no_portal_code(
    demo: Demo,
) -> None:
    # what the people table and the quickstart promise (seed.PEOPLE, "unconfirmed")
    person = BY_KEY["unconfirmed"]
    assert person.phone is not None
    form = _login_at_idp(demo, "unconfirmed")
    assert form.status_code == 200, form.text
    assert "не подтверждена" in form.text
    done = demo.browser.post(
        "/auth/local",
        data={
            "step": _field(form.text, "step_id"),
            "org": person.org_id or "",
            "login": person.login or "",
            "password": person.password or "",
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/diary"
    assert demo.portal.sender.last_code_for(person.phone) is None  # no SMS of the portal's
    again = _login_at_idp(demo, "unconfirmed")
    assert again.headers["location"] == "/diary"  # linked: straight in the next time


def _form_fields(page: str) -> dict[str, str]:
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def test_saml_mode_keeps_the_demo_links_and_titles(idp: RunningIdP, tmp_path: Path) -> None:
    # the seeded links name the SAML IdP's entity id: the linked person goes straight in,
    # and the settings name the link by the provider's title, not by a raw issuer
    db = tmp_path / "demo.db"
    settings = PortalSettings(db_path=db, idp_url=idp.base_url, base_url=BASE, protocol="saml")
    seeded_region(db, issuer=settings.idp_issuer)
    idp.idp.add_service_provider({"metadata": saml_sp_metadata(settings)})
    portal = build_portal(settings)
    person = BY_KEY["linked"]
    try:
        with TestClient(portal.app, client=("127.0.0.1", 50000), follow_redirects=False) as web:
            to_idp = web.get("/auth/login/esia")
            with httpx.Client(follow_redirects=False, timeout=10) as at_idp:
                page = at_idp.get(to_idp.headers["location"])
                page = at_idp.post(
                    idp.base_url + "/login",
                    data={
                        "txn": _field(page.text, "txn"),
                        "login": person.esia_login or "",
                        "password": person.esia_password or "",
                    },
                )
                done = at_idp.post(
                    idp.base_url + "/login/code",
                    data={"txn": _field(page.text, "txn"), "code": idp.idp.last_code()},
                )
            answer = _form_fields(done.text)
            assert "SAMLResponse" in answer, done.text
            back = web.post("/auth/acs/esia", data=answer)
            assert back.headers["location"] == "/diary", back.text
            settings_page = web.get("/auth/settings").text
            assert f"<strong>Госуслуги</strong>: {person.oid}" in settings_page
            assert f"<strong>{idp.base_url}" not in settings_page
    finally:
        portal.store.close()


def test_sso_bridge_pages_carry_the_header_account_menu(demo: Demo) -> None:
    _login_at_idp(demo, "linked")
    for path in ("/auth/settings", "/auth/totp", "/auth/link/esia"):
        page = demo.browser.get(path)
        assert page.status_code == 200, (path, page.text)
        menu = page.text.split('<nav aria-label="Аккаунт">', 1)
        assert len(menu) == 2, path
        assert "Попов Дмитрий" in menu[1].split("</nav>", 1)[0]
        assert 'action="/auth/logout"' in menu[1].split("</nav>", 1)[0], path


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("GET", "/no-such-page", 404, "Такой страницы нет"),
        ("GET", "/auth/no-such-page", 404, "Такой страницы нет"),
        ("DELETE", "/diary", 405, "Эта страница так не открывается"),
        ("GET", "/auth/logout", 405, "Эта страница так не открывается"),
    ],
)
def test_unknown_pages_and_methods_get_the_sites_page(
    demo: Demo, method: str, path: str, status: int, says: str
) -> None:
    answer = demo.browser.request(method, path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text
    assert '<html lang="ru">' in answer.text
    assert "Электронный дневник" in answer.text  # the site's layout
    assert "default-src" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def _switch_link(page: str) -> str:
    found = re.search(r'<a class="language" href="([^"]+)"', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_the_portal_speaks_one_language_chosen_by_the_browser_or_the_switch(demo: Demo) -> None:
    _login_at_idp(demo, "linked")
    russian = demo.browser.get("/diary")
    assert_one_language(russian.text, "ru")
    assert "(родитель)" in russian.text
    english = demo.browser.get("/diary", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert_one_language(english.text, "en")
    assert re.search(r"<h1>Diary[^<]*</h1>", english.text)
    assert "(parent)" in english.text
    assert "Online school diary" in english.text  # the site's name too
    switch = _switch_link(russian.text)
    assert switch == "/auth/language?to=en&next=%2Fdiary"
    moved = demo.browser.get(switch)
    assert moved.status_code == 303 and moved.headers["location"] == "/diary"
    assert "SameSite=Lax" in moved.headers["set-cookie"]
    chosen = demo.browser.get("/diary", headers={"Accept-Language": "ru"})
    assert_one_language(chosen.text, "en")
    for path in ("/auth/settings", "/auth/totp"):
        assert_one_language(demo.browser.get(path).text, "en")


def test_the_login_button_names_the_state_portal_in_the_pages_language(demo: Demo) -> None:
    russian = demo.browser.get("/auth/login")
    assert "Войти через Госуслуги" in russian.text
    english = demo.browser.get("/auth/login", headers={"Accept-Language": "en"})
    assert_one_language(english.text, "en")
    assert "Sign in with Gosuslugi" in english.text
    assert "Госуслуги" not in english.text


def test_a_teachers_journal_and_refusals_speak_english(demo: Demo) -> None:
    demo.browser.headers["Accept-Language"] = "en"
    code_page = _local_login(demo, "locked_demo")
    assert_one_language(code_page.text, "en")
    phone = BY_KEY["locked_demo"].phone
    assert phone is not None
    code = demo.portal.sender.last_code_for(phone)
    assert code is not None
    demo.browser.post(
        "/auth/second-factor", data={"step_id": _field(code_page.text, "step_id"), "code": code}
    )
    page = demo.browser.get("/journal/lyc2-9a")
    assert_one_language(page.text, "en")
    assert "Give a grade" in page.text
    foreign = demo.browser.get("/journal/sch17-7a")
    assert foreign.status_code == 404
    assert_one_language(foreign.text, "en")
    assert "This class is not in your journal." in foreign.text


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("GET", "/no-such-page", 404, "There is no such page."),
        ("GET", "/auth/no-such-page", 404, "There is no such page."),
        ("DELETE", "/diary", 405, "This page cannot be opened that way."),
        ("GET", "/auth/logout", 405, "This page cannot be opened that way."),
    ],
)
def test_unknown_pages_and_methods_speak_the_browsers_language(
    demo: Demo, method: str, path: str, status: int, says: str
) -> None:
    answer = demo.browser.request(method, path, headers={"Accept-Language": "en"})
    assert answer.status_code == status
    assert says in answer.text
    assert_one_language(answer.text, "en")
    assert_one_language(demo.browser.request(method, path).text, "ru")
