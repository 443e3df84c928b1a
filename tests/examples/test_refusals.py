"""Every refusal the demo walks through tells the person what to do (sso_bridge.web.texts)."""

from __future__ import annotations

import pytest

from sso_bridge.web.texts import ERRORS, TEXTS, error_text

REFUSALS = {
    "broker.no_match": "Войдите по логину и паролю",  # no linked account
    "auth.locked": "разблокировать",  # locked after wrong passwords
    "mfa.wrong_code": "введите код ещё раз",  # second factor failed, at the portal
    "mfa.too_many_attempts": "Начните вход заново",
    "oidc.access_denied": "Войдите ещё раз",  # second factor failed, at the IdP
    "saml.status_not_success": "Войдите ещё раз",
    "session.ip_changed": "другого IP-адреса",  # session ended from another IP
    "auth.account_blocked": "Обратитесь к администратору школы",  # account blocked
    "broker.account_blocked": "Обратитесь к администратору школы",
}


@pytest.mark.parametrize(("code", "advice"), sorted(REFUSALS.items()))
def test_the_refusal_says_what_to_do(code: str, advice: str) -> None:
    text = error_text(code)
    assert text is not None, code
    russian, english = text
    assert advice in russian
    assert english and english != russian
    assert code in ERRORS


def test_an_unconfirmed_account_is_sent_to_the_local_login_with_a_reason() -> None:
    russian, _ = TEXTS["reason_unverified"]
    assert "не подтверждена" in russian
    assert "Войдите один раз по логину" in russian
