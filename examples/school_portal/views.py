"""The diary's pages, each behind :func:`require_session`: the home redirect, the diary
(or journal) of the current account, and a class journal with its grade form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from school_portal import diary as data
from school_portal.errors import PortalError
from sso_bridge.model import LocalAccount
from sso_bridge.sessions import SavedRequest, Session
from sso_bridge.store import SqlStore
from sso_bridge.web import WebResponse
from sso_bridge.web.catalogues import translations
from sso_bridge.web.starlette import in_language, require_session, to_response
from sso_bridge.web.texts import ROLE_NAMES, ROLE_PREFIX

if TYPE_CHECKING:
    from school_portal.portal import Portal

__all__ = ["diary", "home", "journal"]

PORTAL_ERRORS: Final = {
    code: "portal_error." + code.removeprefix("portal.")
    for code in (
        "portal.class_unavailable",
        "portal.bad_grade",
        "portal.not_found",
        "portal.method_not_allowed",
        "portal.account_unavailable",
    )
}
"""The message id (locale/<lang>/LC_MESSAGES/school_portal.po) explaining each refusal."""


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    auth = _portal(request).auth
    return to_response(
        auth, in_language(auth, request, WebResponse.page(template, status, **context))
    )


def _language(request: Request) -> str:
    auth = _portal(request).auth
    return in_language(auth, request, WebResponse()).language or auth.config.language


def _role(language: str, role: str) -> str:
    return translations(language).gettext(ROLE_PREFIX + role) if role in ROLE_NAMES else role


def _label(store: SqlStore, account: LocalAccount, language: str) -> dict[str, str]:
    organisation = store.get_organisation(account.org_id)
    roles = ", ".join(_role(language, r) for r in account.roles)
    return {
        "account_id": account.account_id,
        "name": f"{account.last_name} {account.first_name}",
        "roles": roles,
        "org": account.org_id if organisation is None else organisation.name,
    }


def _account(portal: Portal, session: Session) -> LocalAccount:
    account = portal.store.get_account(session.account_id)
    if account is None:
        raise PortalError(
            "the session's account is gone", code="portal.account_unavailable", status=404
        )
    return account


def _nav(store: SqlStore, session: Session, account: LocalAccount, language: str) -> dict[str, Any]:
    others = []
    for account_id in session.accounts:
        other = store.get_account(account_id)
        if other is not None and account_id != session.account_id:
            others.append(_label(store, other, language))
    return {"current": _label(store, account, language), "others": others}


def account_menu(store: SqlStore, session: Session, language: str) -> dict[str, Any] | None:
    """The header's account menu for ``session`` in ``language`` (None if its account is
    gone): given to sso_bridge's own pages too (``WebConfig.template_globals``)."""
    account = store.get_account(session.account_id)
    return None if account is None else _nav(store, session, account, language)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page of the diary with the header's account menu."""
    portal = _portal(request)
    session: Session = request.state.sso_session
    account = _account(portal, session)
    return _render(
        request,
        template,
        status,
        nav=_nav(portal.store, session, account, _language(request)),
        csrf_token=request.state.sso_csrf_token,
        **context,
    )


def _refusal(request: Request, exc: PortalError) -> Response:
    return _page(
        request, "portal_error.html", exc.status, code=exc.code, text=PORTAL_ERRORS.get(exc.code)
    )


@require_session
async def home(request: Request) -> Response:
    """``/``: the diary for a signed-in browser (the login page otherwise)."""
    return RedirectResponse("/diary", status_code=302)


def _pupil_card(portal: Portal, pupil_id: str) -> dict[str, Any]:
    pupil = data.PUPILS[pupil_id]
    info = data.CLASSES[pupil.class_id]
    organisation = portal.store.get_organisation(info.org_id)
    return {
        "pupil": pupil,
        "info": info,
        "org": info.org_id if organisation is None else organisation.name,
        "grades": portal.grades.grades_of(pupil_id),
    }


def _diary_context(portal: Portal, account: LocalAccount) -> dict[str, Any]:
    if data.view_of(account) == "journal":
        return {"view": "journal", "classes": data.classes_for(account)}
    own = data.pupil_of(account)
    pupils = (own,) if own is not None else data.children_of(account)
    return {
        "view": "diary",
        "own": own is not None,
        "cards": [_pupil_card(portal, p) for p in pupils],
    }


@require_session
async def diary(request: Request) -> Response:
    """``/diary``: a pupil's own diary, a parent's children's, or a teacher's journal."""
    portal = _portal(request)
    try:
        account = await run_in_threadpool(_account, portal, request.state.sso_session)
        context = await run_in_threadpool(_diary_context, portal, account)
    except PortalError as exc:
        return await run_in_threadpool(_refusal, request, exc)
    return await run_in_threadpool(_page, request, "diary.html", **context)


def _journal(request: Request, class_id: str, form: dict[str, str] | None) -> Response:
    portal = _portal(request)
    session: Session = request.state.sso_session
    saved = None
    try:
        info = data.class_for(_account(portal, session), class_id)
        if form is not None:
            saved = portal.grades.add(
                info,
                form.get("pupil", ""),
                form.get("grade", ""),
                form.get("comment", ""),
                session.account_id,
                portal.clock.now(),
            )
    except PortalError as exc:
        return _refusal(request, exc)
    pupils = [p for p in data.PUPILS.values() if p.class_id == info.class_id]
    rows = [
        (p, [g for g in portal.grades.grades_of(p.pupil_id) if g.subject == info.subject])
        for p in pupils
    ]
    # a grade form kept when the session expired, brought back by the login: filled in
    restored: SavedRequest | None = getattr(request.state, "sso_restored", None)
    draft = dict(restored.form) if restored is not None else None
    return _page(request, "journal.html", info=info, rows=rows, saved=saved, draft=draft)


@require_session
async def journal(request: Request) -> Response:
    """``/journal/{class_id}``: the class's grades and the form that adds one."""
    class_id = str(request.path_params["class_id"])
    form: dict[str, str] | None = None
    if request.method == "POST":
        read = await request.form()
        form = {k: v for k, v in read.items() if isinstance(v, str)}
    return await run_in_threadpool(_journal, request, class_id, form)


async def page_not_found(request: Request, exc: Exception) -> Response:
    """Any unknown address: the site's error page (its layout, language and headers)."""
    return await run_in_threadpool(_bare_refusal, request, "portal.not_found", 404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """A method a page does not take (a GET of a form's address): the site's error page."""
    return await run_in_threadpool(_bare_refusal, request, "portal.method_not_allowed", 405)


def _bare_refusal(request: Request, code: str, status: int) -> Response:
    # no session is needed to be told that a page does not exist
    return _render(request, "portal_error.html", status, code=code, text=PORTAL_ERRORS[code])
