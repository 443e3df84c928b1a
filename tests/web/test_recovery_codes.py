"""Recovery codes over HTTP on Starlette, Flask and Django: the settings offer them, a
CSRF-checked POST makes a set shown once (never cached), and the second-factor page takes
one in place of the app's code."""

from __future__ import annotations

import re

from sso_bridge.mfa import new_secret, totp
from sso_bridge.mfa.recovery import COUNT, RecoveryCodes
from sso_bridge.model import AuditAction
from web.support import DIRECTOR, TEACHER, World, field

SHOWN = re.compile(r"<code>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})</code>")


def _enrol(world: World, account_id: str) -> bytes:
    secret = new_secret("sha1")
    world.credentials.set_totp(account_id, secret)
    return secret


def test_settings_make_codes_shown_once(world: World) -> None:
    secret = _enrol(world, TEACHER.account_id)
    assert world.local_login().status_code == 303  # a teacher: no second factor asked
    settings = world.browser.get("/auth/settings")
    assert "Коды восстановления" in settings.text
    assert "Кодов нет." in settings.text
    assert 'id="recovery-code"' in settings.text  # the session has no second factor
    csrf = field(settings.text, "csrf_token")
    assert world.browser.post("/auth/recovery-codes", data={"code": "1"}).status_code == 403
    needed = world.browser.post("/auth/recovery-codes", data={"csrf_token": csrf})
    assert needed.status_code == 401
    assert "введите код из приложения-аутентификатора" in needed.text
    code = totp(secret, int(world.clock.now().timestamp()))
    shown = world.browser.post("/auth/recovery-codes", data={"csrf_token": csrf, "code": code})
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    codes = SHOWN.findall(shown.text)
    assert len(codes) == len(set(codes)) == COUNT
    assert "Больше они показаны не будут." in shown.text
    again = world.browser.get("/auth/settings")
    assert f"Неиспользованных кодов: {COUNT}." in again.text
    assert not SHOWN.search(again.text)
    made = [e for e in world.audit.tail(50) if e.action is AuditAction.RECOVERY_CODES_GENERATED]
    assert [e.account_id for e in made] == [TEACHER.account_id]
    assert RecoveryCodes(world.credentials).use(TEACHER.account_id, codes[0]) == COUNT - 1


def test_a_wrong_app_code_ends_the_session(world: World) -> None:
    _enrol(world, TEACHER.account_id)
    assert world.local_login().status_code == 303
    csrf = world.csrf()
    wrong = world.browser.post("/auth/recovery-codes", data={"csrf_token": csrf, "code": "x"})
    assert wrong.status_code == 401
    assert world.credentials.recovery_code_hashes(TEACHER.account_id) == ()
    assert world.browser.get("/auth/settings").status_code == 302  # signed out


def test_settings_without_an_app_offer_no_codes(world: World) -> None:
    assert world.local_login().status_code == 303
    settings = world.browser.get("/auth/settings")
    assert "Коды восстановления" not in settings.text
    refused = world.browser.post("/auth/recovery-codes", data={"csrf_token": world.csrf()})
    assert refused.status_code == 404
    assert "Сначала подключите приложение-аутентификатор." in refused.text


def test_a_recovery_code_signs_in_once(world: World) -> None:
    _enrol(world, DIRECTOR.account_id)
    codes = RecoveryCodes(world.credentials).generate(DIRECTOR.account_id)
    page = world.local_login(login="ivanov", org="sch2")
    assert page.status_code == 200, page.text
    assert "Введите один из кодов восстановления." in page.text
    assert 'inputmode="text"' in page.text
    step = field(page.text, "step_id")
    done = world.browser.post("/auth/second-factor", data={"step_id": step, "code": codes[1]})
    assert done.status_code == 303, done.text
    settings = world.browser.get("/auth/settings")
    assert f"Неиспользованных кодов: {COUNT - 1}." in settings.text
    assert 'id="recovery-code"' not in settings.text  # this session passed a second factor
    world.browser.cookies.clear()
    page = world.local_login(login="ivanov", org="sch2")
    step = field(page.text, "step_id")
    reused = world.browser.post("/auth/second-factor", data={"step_id": step, "code": codes[1]})
    assert reused.status_code == 401
    assert "Осталось попыток: 4." in reused.text
    used = [e for e in world.audit.tail(50) if e.action is AuditAction.RECOVERY_CODE_USED]
    assert [(e.account_id, e.detail) for e in used] == [
        (DIRECTOR.account_id, f"{COUNT - 1} recovery code(s) left")
    ]
