"""The auth pages end to end over HTTP, each scenario on Starlette and on Flask."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sso_bridge.mfa import decode_secret, totp
from web.support import DIRECTOR, PASSWORD, SUBJECT, TEACHER, World, field, fields

SESSION_COOKIE = "sso_session"
BROWSER_COOKIE = "sso_browser"


def test_oidc_login_with_a_linked_account_shows_the_link(world: World) -> None:
    world.link(world.oidc.issuer)
    back = world.oidc_login()
    assert back.status_code == 302, back.text
    assert back.headers["location"] == "/"
    assert world.browser.cookies.get(SESSION_COOKIE)
    settings = world.browser.get("/auth/settings")
    assert settings.status_code == 200
    assert f'name="subject" value="{SUBJECT}"' in settings.text
    assert f'name="issuer" value="{world.oidc.issuer}"' in settings.text
    assert "smirnova — Школа № 1" in settings.text


def test_saml_login_with_a_linked_account(world: World) -> None:
    world.link(world.saml.issuer)
    back = world.saml_login()
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/"
    grades = world.browser.get("/grades")
    assert grades.status_code == 200
    assert f"grades of {TEACHER.account_id}" in grades.text


def test_a_saml_answer_without_the_browser_cookie_is_posted_again_from_the_site(
    world: World,
) -> None:
    world.link(world.saml.issuer)
    world.browser.get("/auth/login")
    browser_id = world.browser.cookies[BROWSER_COOKIE]
    to_idp = world.browser.get("/auth/login/saml")
    assert to_idp.status_code == 302
    world.browser.cookies.clear()  # as a browser does on a cross-site POST
    answer = world.saml_answer(to_idp.headers["location"])
    repost = world.browser.post("/auth/acs/saml", data=answer)
    assert repost.status_code == 200
    assert "set-cookie" not in repost.headers  # the browser's own id is not replaced
    sent = dict(fields(repost.text))
    assert sent["SAMLResponse"] == answer["SAMLResponse"]
    assert sent["sso_repost"] == "1"
    world.browser.cookies.set(BROWSER_COOKIE, browser_id)
    back = world.browser.post("/auth/acs/saml", data=sent)
    assert back.status_code == 303, back.text
    assert world.browser.cookies.get(SESSION_COOKIE)


def test_a_wrong_password_shows_the_error_and_keeps_the_form(world: World) -> None:
    page = world.local_login(password="not-the-password-1")
    assert page.status_code == 401
    assert "Неверная организация, логин или пароль." in page.text
    assert "Wrong organisation, login or password." not in page.text  # one language
    assert field(page.text, "login") == "smirnova"
    assert '<option value="sch1" selected>' in page.text
    assert "not-the-password-1" not in page.text
    assert SESSION_COOKIE not in world.browser.cookies
    again = world.browser.post(
        "/auth/local",
        data={
            "step": field(page.text, "step_id"),
            "org": "sch1",
            "login": "smirnova",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 303, again.text


def test_a_post_without_the_csrf_token_is_refused(world: World) -> None:
    world.link(world.oidc.issuer)
    assert world.local_login().status_code == 303
    form = {"issuer": world.oidc.issuer, "subject": SUBJECT}
    refused = world.browser.post("/auth/unlink", data=form)
    assert refused.status_code == 403
    assert "session.csrf_invalid" in refused.text
    assert world.store.links_for_account(TEACHER.account_id)
    wrong = world.browser.post("/auth/unlink", data={**form, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert world.browser.post("/grades", data={"mark": "5"}).status_code == 403
    unlinked = world.browser.post("/auth/unlink", data={**form, "csrf_token": world.csrf()})
    assert unlinked.status_code == 303
    assert unlinked.headers["location"] == "/auth/settings?done=unlinked"
    assert not world.store.links_for_account(TEACHER.account_id)


def test_require_session_sends_to_the_login_and_back(world: World) -> None:
    to_login = world.browser.get("/grades?term=2")
    assert to_login.status_code == 302
    location = urlsplit(to_login.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query) == {"next": ["/grades?term=2"]}
    back = world.local_login(query="?" + location.query)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/grades?term=2"
    assert world.browser.get("/grades?term=2").status_code == 200


def test_an_expired_session_keeps_a_post_and_gives_its_form_back(world: World) -> None:
    assert world.local_login().status_code == 303
    token = field(world.browser.get("/grades").text, "csrf_token")
    world.clock.advance(timedelta(minutes=31))
    sent = [("csrf_token", token), ("mark", "5"), ("comment", "молодец & <умница>")]
    kept = world.post_pairs("/grades?class=7a", sent)
    assert kept.status_code == 303
    location = urlsplit(kept.headers["location"])
    assert location.path == "/auth/login"
    assert list(parse_qs(location.query)) == ["kept"]
    login_page = world.browser.get(kept.headers["location"])
    assert "Сеанс истёк" in login_page.text
    back = world.local_login(query="?" + location.query)
    assert back.status_code == 200, back.text
    assert 'action="/grades?class=7a"' in back.text
    refill = fields(back.text)
    assert ("mark", "5") in refill
    assert 'name="comment" value="молодец &amp; &lt;умница&gt;"' in back.text
    fresh = dict(refill)["csrf_token"]
    assert fresh != token
    saved = world.post_pairs("/grades?class=7a", refill)
    assert saved.status_code == 200
    assert saved.text == "saved mark=5&comment=молодец & <умница>"


def test_a_kept_post_goes_back_to_a_form_that_fills_itself_in_once(world: World) -> None:
    assert world.local_login().status_code == 303
    token = field(world.browser.get("/grades").text, "csrf_token")
    world.clock.advance(timedelta(minutes=31))
    sent = [("csrf_token", token), ("mark", "4"), ("comment", "у доски")]
    kept = world.post_pairs("/notes?class=7a", sent)
    assert kept.status_code == 303
    query = urlsplit(kept.headers["location"]).query
    back = world.local_login(query="?" + query)
    assert back.status_code == 303, back.text
    to_form = urlsplit(back.headers["location"])
    assert to_form.path == "/notes"
    assert list(parse_qs(to_form.query)) == ["class", "restored"]
    page = world.browser.get(back.headers["location"])
    assert page.text == "restored /notes?class=7a: mark=4&comment=у доски"
    assert world.browser.get(back.headers["location"]).text == "restored: none"  # once
    # another browser with the same address gets nothing either
    with httpx.Client(base_url=world.base_url, timeout=10) as other:
        assert other.get(back.headers["location"]).status_code == 302  # to the login


def test_an_expired_session_replays_a_get_after_the_login(world: World) -> None:
    assert world.local_login().status_code == 303
    world.clock.advance(timedelta(minutes=31))
    kept = world.browser.get("/grades?term=3")
    query = urlsplit(kept.headers["location"]).query
    assert list(parse_qs(query)) == ["kept"]
    back = world.local_login(query="?" + query)
    assert back.status_code == 303
    assert back.headers["location"] == "/grades?term=3"


def test_logout_ends_the_session(world: World) -> None:
    assert world.local_login().status_code == 303
    token = world.browser.cookies[SESSION_COOKIE]
    out = world.browser.post("/auth/logout", data={"csrf_token": world.csrf()})
    assert out.status_code == 303
    assert out.headers["location"] == "/auth/login?done=logged_out"
    assert SESSION_COOKIE not in world.browser.cookies
    assert "Вы вышли из системы." in world.browser.get(out.headers["location"]).text
    world.browser.cookies.set(SESSION_COOKIE, token)
    assert world.browser.get("/auth/settings").status_code == 302


def test_the_second_factor_page(world: World) -> None:
    page = world.local_login(login="ivanov", org="sch2")
    assert page.status_code == 200, page.text
    assert "SMS" in page.text
    assert "+7 *** ***-**-34" in page.text
    assert "Осталось попыток: 5." in page.text
    assert 'action="/auth/second-factor/resend"' in page.text
    wrong = world.browser.post(
        "/auth/second-factor", data={"step_id": field(page.text, "step_id"), "code": "000000x"}
    )
    assert wrong.status_code == 401
    assert "Неверный код." in wrong.text
    assert "Осталось попыток: 4." in wrong.text
    code = world.sender.last_code_for("+7 900 555-12-34")
    assert code is not None
    done = world.browser.post(
        "/auth/second-factor", data={"step_id": field(wrong.text, "step_id"), "code": code}
    )
    assert done.status_code == 303
    assert f"grades of {DIRECTOR.account_id}" in world.browser.get("/grades").text


def test_no_linked_account_says_what_to_do(world: World) -> None:
    refused = world.oidc_login(oid=1000000103)
    assert refused.status_code == 404
    assert "Войдите по логину и паролю, которые выдала школа" in refused.text
    assert "then link Gosuslugi in your sign-in settings" not in refused.text
    assert "broker.no_match" in refused.text
    assert "Traceback" not in refused.text


def test_link_from_settings(world: World) -> None:
    assert world.local_login().status_code == 303
    confirm = world.browser.get("/auth/link/esia")
    assert confirm.status_code == 200
    assert "Связывайте только свою собственную учётную запись" in confirm.text
    to_idp = world.browser.post(
        "/auth/link/esia", data={"csrf_token": field(confirm.text, "csrf_token")}
    )
    assert to_idp.status_code == 303
    # the name and birth date, which must agree with the account's
    back = world.oidc_login_at(to_idp.headers["location"], scopes=("fullname", "birthdate"))
    assert back.status_code == 302
    assert back.headers["location"] == "/auth/settings?done=linked"
    assert [link.subject for link in world.store.links_for_account(TEACHER.account_id)] == [SUBJECT]


def test_totp_enrolment(world: World) -> None:
    assert world.local_login().status_code == 303
    page = world.browser.get("/auth/totp")
    assert page.status_code == 200
    assert "<svg" in page.text
    secret = field(page.text, "secret")
    assert secret.replace(" ", "")[:4] in page.text.split('class="secret">')[1]
    form = dict(fields(page.text))
    tampered = {**form, "secret": "A" * len(secret), "code": "123456"}
    assert world.browser.post("/auth/totp", data=tampered).status_code == 403
    wrong = world.browser.post("/auth/totp", data={**form, "code": "000000"})
    assert wrong.status_code == 401
    assert field(wrong.text, "secret") == secret
    now = int(world.clock.now().timestamp())
    code = totp(decode_secret(secret), now)
    done = world.browser.post("/auth/totp", data={**form, "code": code})
    assert done.status_code == 303
    assert done.headers["location"] == "/auth/settings?done=totp"
    assert world.broker.totp.enrolled(TEACHER.account_id)


def test_choose_among_linked_accounts_then_switch(world: World) -> None:
    world.link(world.oidc.issuer, TEACHER.account_id)
    world.link(world.oidc.issuer, DIRECTOR.account_id)
    chooser = world.oidc_login()
    assert chooser.status_code == 200, chooser.text
    assert "Школа № 1" in chooser.text
    assert "Школа № 2" in chooser.text
    chosen = world.browser.post(
        "/auth/choose",
        data={"step_id": field(chooser.text, "step_id"), "account": TEACHER.account_id},
    )
    assert chosen.status_code == 303, chosen.text
    settings = world.browser.get("/auth/settings")
    assert f'<option value="{DIRECTOR.account_id}">' in settings.text
    switched = world.browser.post(
        "/auth/switch",
        data={"account": DIRECTOR.account_id, "csrf_token": field(settings.text, "csrf_token")},
    )
    assert switched.status_code == 303, switched.text
    assert f"grades of {DIRECTOR.account_id}" in world.browser.get("/grades").text


def test_a_form_over_the_limit_is_refused_unread(world: World) -> None:
    big = "x" * (world.config.max_form_bytes + 1)
    refused = world.browser.post("/auth/local", data={"step_id": "s", "login": big})
    assert refused.status_code == 413
    assert "web.form_too_large" in refused.text


def _browser_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(BROWSER_COOKIE + "="):
            return header.split("=", 1)[1].split(";", 1)[0]
    return None


def test_a_browser_id_the_server_did_not_issue_is_replaced(world: World) -> None:
    planted = "p" * 43  # what an attacker puts into a victim's browser and keeps for itself
    attacker = httpx.Client(base_url=world.base_url, timeout=10, cookies={BROWSER_COOKIE: planted})
    try:
        page = attacker.get("/auth/login")
        issued = _browser_cookie(page)
        assert issued is not None and planted not in issued
        step = field(page.text, "step_id")
        # the victim's browser still sends the planted value: it shares nothing with it
        world.browser.cookies.set(BROWSER_COOKIE, planted)
        form = {"step_id": step, "org": "sch1", "login": "smirnova", "password": PASSWORD}
        refused = world.browser.post("/auth/local", data=form)
        assert refused.status_code == 403, refused.text
        assert "broker.step_foreign" in refused.text
        assert not world.browser.cookies.get(SESSION_COOKIE)
    finally:
        attacker.close()


def test_the_browser_id_is_replaced_at_login(world: World) -> None:
    page = world.browser.get("/auth/login")
    before = world.browser.cookies[BROWSER_COOKIE]
    earlier_step = field(world.browser.get("/auth/login").text, "step_id")
    form = {"step_id": field(page.text, "step_id"), "org": "sch1", "login": "smirnova"}
    done = world.browser.post("/auth/local", data={**form, "password": PASSWORD})
    assert done.status_code == 303, done.text
    after = _browser_cookie(done)
    assert after is not None and after != before
    assert world.browser.cookies[BROWSER_COOKIE] == after
    # a step begun before the login belonged to the old id
    stale = world.browser.post(
        "/auth/local", data={**form, "step_id": earlier_step, "password": "x"}
    )
    assert stale.status_code == 403, stale.text
    assert "broker.step_foreign" in stale.text


@pytest.mark.parametrize("path", ["/auth/local", "/auth/choose", "/auth/second-factor"])
def test_the_address_of_a_login_form_opened_again_leads_to_the_login_page(
    world: World, path: str
) -> None:
    again = world.browser.get(path)
    assert again.status_code in (302, 303), again.text
    assert again.headers["location"] == "/auth/login"


def test_the_chooser_marks_linked_accounts_and_hides_one_until_shown_again(world: World) -> None:
    world.link(world.oidc.issuer, DIRECTOR.account_id)  # the teacher account stays unlinked
    to_idp = world.browser.get("/auth/login/esia")
    # the person's data, which matching compares with the accounts
    chooser = world.oidc_login_at(
        to_idp.headers["location"], scopes=("fullname", "birthdate", "snils")
    )
    assert chooser.status_code == 200, chooser.headers.get("location")
    assert f'data-account="{DIRECTOR.account_id}" data-linked="yes"' in chooser.text
    assert f'data-account="{TEACHER.account_id}" data-linked="no"' in chooser.text
    assert "Не предлагать эту учётную запись" in chooser.text
    hidden = world.browser.post(
        "/auth/choose/hide",
        data={"step_id": field(chooser.text, "step_id"), "hide": TEACHER.account_id},
    )
    assert hidden.status_code == 200, hidden.text
    assert f'data-account="{TEACHER.account_id}"' not in hidden.text
    chosen = world.browser.post(
        "/auth/choose",
        data={"step_id": field(hidden.text, "step_id"), "account": DIRECTOR.account_id},
    )
    assert chosen.status_code == 303, chosen.text
    settings = world.browser.get("/auth/settings")
    assert 'id="hidden-heading"' in settings.text
    assert f'<option value="{TEACHER.account_id}">' not in settings.text  # nor in the switcher
    shown = world.browser.post(
        "/auth/accounts/show",
        data={"account": TEACHER.account_id, "csrf_token": field(settings.text, "csrf_token")},
    )
    assert shown.status_code == 303, shown.text
    assert shown.headers["location"] == "/auth/settings?done=shown"
    assert 'id="hidden-heading"' not in world.browser.get("/auth/settings").text
