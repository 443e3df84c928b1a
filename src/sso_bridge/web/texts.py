"""Every text the pages show, in Russian and in English.

Each entry is ``(russian, english)``; pages show the configured language first and the
other one under it. ``{name}`` fields are filled in (and escaped) by the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["ERRORS", "GENERIC_ERROR", "ROLE_NAMES", "TEXTS", "error_text"]

Pair = tuple[str, str]

_TEXTS: Final[dict[str, Pair]] = {
    # login page
    "login_title": ("Вход", "Sign in"),
    "federated_button": ("Войти через {title}", "Sign in with {title}"),
    "or": ("или", "or"),
    "local_heading": ("Вход по логину школы", "Sign in with your school login"),
    "organisation": ("Организация", "Organisation"),
    "organisation_id": ("Код организации", "Organisation code"),
    "choose_organisation": ("— выберите —", "— choose —"),
    "login": ("Логин", "Login"),
    "password": ("Пароль", "Password"),
    "sign_in": ("Войти", "Sign in"),
    "kept_notice": (
        "Сеанс истёк. Войдите снова — введённые вами данные сохранены.",
        "Your session has expired. Sign in again — the data you entered has been kept.",
    ),
    "logged_out": ("Вы вышли из системы.", "You have signed out."),
    "ended_elsewhere_notice": (
        "Сеанс был завершён с другого устройства. Войдите снова.",
        "The session was ended from another device. Sign in again.",
    ),
    "ended_elsewhere_unsaved_notice": (
        "Сеанс был завершён с другого устройства, поэтому отправленная форма не сохранена. "
        "Войдите снова и введите данные ещё раз.",
        "The session was ended from another device, so the form you sent was not saved. "
        "Sign in again and enter the data once more.",
    ),
    "ended_idp_notice": (
        "Вы вышли на Госуслугах, поэтому сеанс здесь тоже завершён. Войдите снова.",
        "You signed out at Gosuslugi, so the session here has ended too. Sign in again.",
    ),
    "ended_idp_unsaved_notice": (
        "Вы вышли на Госуслугах, поэтому сеанс здесь завершён и отправленная форма не "
        "сохранена. Войдите снова и введите данные ещё раз.",
        "You signed out at Gosuslugi, so the session here has ended and the form you sent "
        "was not saved. Sign in again and enter the data once more.",
    ),
    "reason_unverified": (
        "Ваша учётная запись на Госуслугах не подтверждена. Войдите один раз по логину "
        "и паролю школы, чтобы связать её со школьной учётной записью.",
        "Your Gosuslugi account is not confirmed. Sign in once with your school login "
        "and password to link it to your school account.",
    ),
    "reason_prove": (
        "Подтвердите, что это ваша учётная запись: войдите по логину и паролю школы. "
        "После этого она будет связана с Госуслугами.",
        "Confirm that this account is yours: sign in with your school login and "
        "password. It will then be linked to Gosuslugi.",
    ),
    # chooser
    "choose_title": ("Выбор учётной записи", "Choose an account"),
    "choose_heading": (
        "Выберите организацию и учётную запись",
        "Choose the organisation and the account",
    ),
    "choose_linking": (
        "Выбранная учётная запись будет связана с вашей учётной записью на Госуслугах.",
        "The account you choose will be linked to your Gosuslugi account.",
    ),
    "roles": ("Роли", "Roles"),
    "continue": ("Продолжить", "Continue"),
    # second factor
    "code_title": ("Подтверждение входа", "Confirm sign-in"),
    "code_sent_sms": (
        "Мы отправили код в SMS на номер {destination}.",
        "We sent a code by SMS to {destination}.",
    ),
    "code_sent_email": (
        "Мы отправили код на адрес {destination}.",
        "We sent a code to {destination}.",
    ),
    "code_totp": (
        "Введите код из приложения-аутентификатора.",
        "Enter the code from your authenticator app.",
    ),
    "code": ("Код", "Code"),
    "attempts_left": ("Осталось попыток: {left}.", "Attempts left: {left}."),
    "resend": ("Отправить код ещё раз", "Send the code again"),
    "code_recovery_hint": (
        "Нет доступа к приложению? Введите один из кодов восстановления.",
        "No access to the app? Enter one of your recovery codes instead.",
    ),
    # settings
    "settings_title": ("Настройки входа", "Sign-in settings"),
    "signed_in_as": ("Вы вошли как {account}", "Signed in as {account}"),
    "links_heading": ("Связанные учётные записи", "Linked accounts"),
    "no_links": ("Связанных учётных записей нет.", "No accounts are linked."),
    "linked_on": ("связана {date}", "linked on {date}"),
    "unlink": ("Отвязать", "Unlink"),
    "link_with": ("Связать учётную запись: {title}", "Link an account: {title}"),
    "sessions_heading": ("Активные сеансы", "Active sessions"),
    "this_session": ("этот сеанс", "this session"),
    "unknown_browser": ("Браузер не распознан", "Unrecognised browser"),
    "session_since": ("с {date}, IP {ip}", "since {date}, IP {ip}"),
    "end_session": ("Завершить", "End"),
    "totp_heading": ("Приложение-аутентификатор", "Authenticator app"),
    "totp_enrolled": ("Подключено.", "Set up."),
    "totp_not_enrolled": ("Не подключено.", "Not set up."),
    "totp_set_up": ("Подключить приложение", "Set up the app"),
    "totp_replace": ("Подключить заново", "Set it up again"),
    "recovery_heading": ("Коды восстановления", "Recovery codes"),
    "recovery_left": (
        "Неиспользованных кодов: {left}. Каждый код входит один раз вместо кода из приложения.",
        "Unused codes: {left}. Each one signs you in once instead of a code from the app.",
    ),
    "recovery_none": (
        "Кодов нет. Создайте их, чтобы войти, если телефон потерян.",
        "You have none. Make them, so that you can sign in if you lose your phone.",
    ),
    "recovery_generate": ("Создать коды", "Make codes"),
    "recovery_replace": ("Создать новые коды", "Make new codes"),
    "recovery_replace_note": (
        "Новые коды заменят прежние: прежние перестанут действовать.",
        "New codes replace the earlier ones: those stop working.",
    ),
    "switch_heading": ("Другие учётные записи", "Other accounts"),
    "switch_to": ("Перейти", "Switch"),
    "account": ("Учётная запись", "Account"),
    "sign_out": ("Выйти", "Sign out"),
    "done_linked": ("Учётная запись связана.", "The account has been linked."),
    "done_unlinked": ("Учётная запись отвязана.", "The account has been unlinked."),
    "done_revoked": ("Сеанс завершён.", "The session has been ended."),
    "done_totp": ("Приложение-аутентификатор подключено.", "The authenticator app is set up."),
    # link confirmation
    "link_title": ("Связать учётную запись", "Link an account"),
    "link_warning": (
        "После связывания вход через {title} будет открывать эту школьную учётную "
        "запись. Связывайте только свою собственную учётную запись.",
        "Once linked, signing in with {title} opens this school account. Link only "
        "your own account.",
    ),
    "link_confirm": ("Продолжить: {title}", "Continue: {title}"),
    "cancel": ("Отмена", "Cancel"),
    # authenticator enrolment
    "totp_title": ("Подключение приложения", "Set up an authenticator app"),
    "totp_scan": (
        "Отсканируйте QR-код приложением-аутентификатором.",
        "Scan the QR code with your authenticator app.",
    ),
    "totp_manual": ("Или введите ключ вручную:", "Or type the key in by hand:"),
    "totp_code": ("Код из приложения", "Code from the app"),
    "confirm": ("Подтвердить", "Confirm"),
    "qr_label": ("QR-код для приложения-аутентификатора", "QR code for the authenticator app"),
    # recovery codes, shown once
    "recovery_title": ("Коды восстановления", "Recovery codes"),
    "recovery_save": (
        "Сохраните эти коды: распечатайте или запишите и храните отдельно от телефона. "
        "Каждый код действует один раз. Больше они показаны не будут.",
        "Keep these codes: print or write them down and keep them apart from your phone. "
        "Each code works once. They will not be shown again.",
    ),
    "back_to_settings": ("Вернуться к настройкам", "Back to the settings"),
    # restored form
    "restored_title": ("Данные сохранены", "Your data was kept"),
    "restored_text": (
        "Ваш сеанс истёк, но введённые данные сохранены. Проверьте их и отправьте форму ещё раз.",
        "Your session expired, but the data you entered was kept. Check it and send "
        "the form again.",
    ),
    "send": ("Отправить", "Send"),
    # error page and SAML repost
    "error_title": ("Ошибка", "Error"),
    "error_code": ("Код ошибки: {code}", "Error code: {code}"),
    "back_to_login": ("Вернуться ко входу", "Back to sign-in"),
    "repost_text": (
        "Продолжение входа… Если страница не изменилась, нажмите кнопку.",
        "Continuing the sign-in… If nothing happens, press the button.",
    ),
}
# The keys of the old spelling, for page templates of the host; kept for one release.
_TEXTS.update(
    {
        "organization": _TEXTS["organisation"],
        "organization_id": _TEXTS["organisation_id"],
        "choose_organization": _TEXTS["choose_organisation"],
    }
)
TEXTS: Final[Mapping[str, Pair]] = MappingProxyType(_TEXTS)

GENERIC_ERROR: Final[Pair] = (
    "Что-то пошло не так. Попробуйте войти ещё раз; если ошибка повторится, сообщите "
    "администратору школы код ошибки.",
    "Something went wrong. Try to sign in again; if it happens again, tell the school "
    "administrator the error code.",
)

_BLOCKED: Final[Pair] = (
    "Эта школьная учётная запись заблокирована. Обратитесь к администратору школы, чтобы "
    "её разблокировать.",
    "This school account is blocked. Ask the school administrator to unblock it.",
)
_EXPIRED: Final[Pair] = (
    "Сеанс истёк. Войдите снова.",
    "Your session has expired. Sign in again.",
)
_IDP_REFUSED: Final[Pair] = (
    "Вход через Госуслуги не завершён: он был отменён, или на Госуслугах неверно введены "
    "пароль или код подтверждения. Войдите ещё раз; если не получается, войдите по логину "
    "и паролю школы.",
    "Signing in with Gosuslugi did not finish: it was cancelled, or a wrong password or "
    "confirmation code was entered at Gosuslugi. Sign in again; if that fails, sign in with "
    "your school login and password.",
)
_START_AGAIN: Final[Pair] = (
    "Эта страница входа устарела или уже была использована. Начните вход заново.",
    "This sign-in page is out of date or has already been used. Start signing in again.",
)
_TOO_LARGE: Final[Pair] = (
    "Форма слишком большая, она не была принята. Сократите данные и отправьте снова.",
    "The form is too large and was not accepted. Shorten it and send it again.",
)

ERRORS: Final[Mapping[str, Pair]] = MappingProxyType(
    {
        "broker.no_match": (
            "С этой учётной записью Госуслуг не связана ни одна школьная учётная запись. "
            "Войдите по логину и паролю, которые выдала школа, а затем свяжите Госуслуги "
            "в настройках входа.",
            "No school account is linked to this Gosuslugi account. Sign in with the login "
            "and password your school gave you, then link Gosuslugi in your sign-in settings.",
        ),
        "auth.locked": (
            "Учётная запись заблокирована после нескольких неверных паролей. Попробуйте "
            "позже или попросите администратора школы разблокировать её.",
            "The account is locked after several wrong passwords. Try again later, or ask "
            "the school administrator to unlock it.",
        ),
        "auth.account_blocked": _BLOCKED,
        "broker.account_blocked": _BLOCKED,
        "auth.bad_password": (
            "Неверная организация, логин или пароль.",
            "Wrong organisation, login or password.",
        ),
        "auth.no_password": (
            "У этой учётной записи нет пароля. Обратитесь к администратору школы.",
            "This account has no password. Ask the school administrator.",
        ),
        "mfa.wrong_code": (
            "Неверный код. Проверьте последнее сообщение (или приложение-аутентификатор) "
            "и введите код ещё раз.",
            "Wrong code. Check the latest message (or your authenticator app) and enter the "
            "code again.",
        ),
        "mfa.totp_step_reused": (
            "Этот код уже использован. Дождитесь следующего кода в приложении.",
            "This code has already been used. Wait for the next code in the app.",
        ),
        "mfa.too_many_attempts": (
            "Слишком много неверных кодов. Начните вход заново — вы получите новый код.",
            "Too many wrong codes. Start signing in again and you will get a new code.",
        ),
        "mfa.challenge_expired": (
            "Срок действия кода истёк. Запросите новый код или начните вход заново.",
            "The code has expired. Ask for a new code or start signing in again.",
        ),
        "mfa.resend_too_soon": (
            "Новый код можно запросить чуть позже.",
            "You can ask for a new code a little later.",
        ),
        "mfa.resend_limit": (
            "Код отправлялся слишком много раз. Начните вход заново.",
            "The code was sent too many times. Start signing in again.",
        ),
        "broker.no_second_factor": (
            "Для входа нужен второй фактор, но у учётной записи нет ни телефона, ни почты, "
            "ни приложения-аутентификатора. Обратитесь к администратору школы.",
            "Signing in needs a second factor, but the account has no phone, e-mail or "
            "authenticator app. Ask the school administrator.",
        ),
        "session.ip_changed": (
            "Ваш сеанс завершён, потому что он был использован с другого IP-адреса. "
            "Войдите снова. Если это были не вы, смените пароль.",
            "Your session was ended because it was used from another IP address. Sign in "
            "again. If that was not you, change your password.",
        ),
        "oidc.access_denied": _IDP_REFUSED,
        "saml.status_not_success": _IDP_REFUSED,
        "session.expired": _EXPIRED,
        "session.idle_expired": _EXPIRED,
        "session.csrf_invalid": (
            "Форма устарела. Обновите страницу и отправьте её ещё раз.",
            "The form is out of date. Reload the page and send it again.",
        ),
        "broker.provider_disabled": (
            "Вход через этого поставщика сейчас отключён. Войдите по логину и паролю школы.",
            "Signing in with this provider is switched off for now. Sign in with your "
            "school login and password.",
        ),
        "broker.step_unknown": _START_AGAIN,
        "broker.out_of_order": _START_AGAIN,
        "broker.step_foreign": (
            "Вход был начат в другом браузере. Начните вход заново в этом браузере.",
            "The sign-in was started in another browser. Start signing in again in this one.",
        ),
        "broker.not_offered": (
            "Эта учётная запись не была вам предложена. Начните вход заново.",
            "That account was not offered to you. Start signing in again.",
        ),
        "broker.idp_initiated": (
            "Вход, начатый на сайте Госуслуг, не может связать учётные записи. Начните вход "
            "с этого сайта.",
            "A sign-in started on the Gosuslugi site cannot link accounts. Start signing in "
            "from this site.",
        ),
        "link.conflict": (
            "Эта школьная учётная запись уже связана с другой учётной записью Госуслуг. "
            "Сначала отвяжите её в настройках входа.",
            "This school account is already linked to another Gosuslugi account. Unlink it "
            "in your sign-in settings first.",
        ),
        "web.form_too_large": _TOO_LARGE,
        "web.too_many_fields": _TOO_LARGE,
        "web.field_too_large": _TOO_LARGE,
        "broker.not_linked": (
            "Эта учётная запись больше не связана с вашей учётной записью Госуслуг. "
            "Войдите заново.",
            "That account is no longer linked to your Gosuslugi account. Sign in again.",
        ),
        "mfa.code_needed": (
            "Чтобы создать коды восстановления, введите код из приложения-аутентификатора.",
            "To make recovery codes, enter a code from your authenticator app.",
        ),
        "mfa.totp_not_enrolled": (
            "Сначала подключите приложение-аутентификатор.",
            "Set up an authenticator app first.",
        ),
        "mfa.bad_label": (
            "Приложение-аутентификатор нельзя подключить для этой учётной записи. "
            "Обратитесь к администратору школы.",
            "An authenticator app cannot be set up for this account. Ask the school administrator.",
        ),
    }
)
"""What to tell the person for each error code the pages explain; the rest get
:data:`GENERIC_ERROR` and the code."""


def error_text(code: str) -> Pair | None:
    """The explanation of ``code``, or None when the generic text applies."""
    return ERRORS.get(code)


ROLE_NAMES: Final[Mapping[str, Pair]] = MappingProxyType(
    {
        "teacher": ("учитель", "teacher"),
        "parent": ("родитель", "parent"),
        "pupil": ("ученик", "pupil"),
        "director": ("директор", "director"),
        "staff": ("сотрудник", "staff"),
        "admin": ("администратор", "administrator"),
    }
)
"""How the chooser and the account switcher name the common roles; others show as given."""
