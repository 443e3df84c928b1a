"""What every auth route shares: the visiting browser, the session guard, and turning the
broker's results into responses."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

import attrs

from sso_bridge import base64url
from sso_bridge.broker import (
    Broker,
    ChooseAccount,
    Client,
    LinkedFromSettings,
    LinkRequested,
    LocalLoginForm,
    LoggedIn,
    Provider,
    Redirect,
    SecondFactorForm,
    StepResult,
    StepUpDone,
)
from sso_bridge.errors import BridgeError, InvalidInput, declared
from sso_bridge.sessions import (
    SavedRequest,
    Session,
    SessionError,
    SessionExpired,
    clear_cookie_header,
    client_address,
    is_local_path,
    set_cookie_header,
)
from sso_bridge.sessions.errors import SessionEnded, SessionMissing, SessionUnknown
from sso_bridge.web.http import WebConfig, WebRequest, WebResponse
from sso_bridge.web.language import LANGUAGE_COOKIE, page_language
from sso_bridge.web.rendering import Templates

__all__ = [
    "ENDED_NOTICES",
    "NEXT_COOKIE",
    "ORGANISATION_SCAN",
    "ORGANIZATION_SCAN",
    "RoutesBase",
    "Visit",
    "kept_id",
]

ENDED_NOTICES: Final = {
    "elsewhere": "ended_elsewhere_notice",
    "elsewhere-unsaved": "ended_elsewhere_unsaved_notice",
    "idp": "ended_idp_notice",
    "idp-unsaved": "ended_idp_unsaved_notice",
}
"""The login page's notice (a text key) for each ``?ended=`` a guard sends it."""

RESTORED_PARAM: Final = "restored"
"""The query parameter that brings a kept POST back to its own form's page."""

NEXT_COOKIE: Final = "sso_next"
"""Holds (base64url) where to go after a login that started at ``/login?next=...``."""

BROWSER_MAX_AGE: Final = 365 * 24 * 3600
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_KEPT_ID: Final = 128
ORGANISATION_SCAN: Final = 500
ORGANIZATION_SCAN: Final = ORGANISATION_SCAN  # the old spelling, kept for one release
"""Above this many organisations the login form asks for the id as text instead."""


@attrs.frozen
class Visit:
    """One request with the browser it comes from: ``client`` for the broker, the
    session ``token`` from the cookie, and the cookie to set if the browser is new."""

    request: WebRequest
    client: Client
    token: str | None
    cookies: tuple[str, ...] = ()


def kept_id(value: str | None) -> str | None:
    """A kept-request id from a query, if it looks like one."""
    return value if value and len(value) <= _MAX_KEPT_ID else None


class RoutesBase:
    """The broker, the configuration and the templates, and the shared steps of the
    routes of :class:`~sso_bridge.web.core.AuthRoutes`."""

    def __init__(
        self, broker: Broker, config: WebConfig | None = None, templates: Templates | None = None
    ) -> None:
        self.broker = broker
        self.config = config or WebConfig()
        self.templates = templates or Templates(self.config)

    def language_of(self, request: WebRequest) -> str:
        """The language of the pages answering ``request`` (see
        :func:`~sso_bridge.web.language.page_language`)."""
        cookie = self.config.cookies.full_name(LANGUAGE_COOKIE)
        default = self.config.language
        return page_language(request.cookies, request.header("accept-language"), default, cookie)

    # -- the visiting browser ----------------------------------------------------------------

    def has_browser(self, request: WebRequest) -> bool:
        """Whether the request carries a browser-id cookie that this server issued."""
        return self._browser_of(request) is not None

    def _browser_of(self, request: WebRequest) -> str | None:
        value = request.cookies.get(self.config.cookies.browser_cookie)
        return self.broker.verify_browser_id(value)

    def new_browser(self) -> tuple[str, str]:
        """A new server-issued browser id, and the ``Set-Cookie`` value that sets it."""
        browser, value = self.broker.issue_browser_id()
        settings = self.config.cookies
        return browser, set_cookie_header(
            settings, settings.browser_name, value, max_age=BROWSER_MAX_AGE
        )

    def visit(self, request: WebRequest) -> Visit:
        """The client of ``request``; a new browser id (and its cookie) when the request
        carries none that this server issued (a first visit, or a planted value).

        This is where the client address is parsed, once: the peer address, and
        ``X-Forwarded-For`` only behind :attr:`WebConfig.trusted_proxies`
        (:func:`~sso_bridge.sessions.client_address`). Everything after takes the
        parsed address (``visit.client.ip``); a malformed one is ``input.bad_ip``."""
        settings = self.config.cookies
        browser = self._browser_of(request)
        cookies: tuple[str, ...] = ()
        if browser is None:
            browser, header = self.new_browser()
            cookies = (header,)
        address = client_address(
            request.remote_addr, request.header("x-forwarded-for"), self.config.trusted_proxies
        )
        client = Client(browser, address, request.header("user-agent") or "")
        token = request.cookies.get(settings.session_cookie) or None
        return Visit(request, client, token, cookies)

    # -- sessions ---------------------------------------------------------------------------

    def guard(self, visit: Visit, *, check_csrf: bool = True) -> Session | WebResponse:
        """The visit's live session, or where to send the browser instead.

        No session: to the login page, coming back here afterwards. An expired one: the
        request is kept (a POST only if its CSRF token was the expired session's) and the
        login page gets its id. Other refusals (another IP) propagate. A state-changing
        request must carry the session's CSRF token (``session.csrf_invalid``).
        """
        request = visit.request
        try:
            session = self.authenticate(visit)
        except SessionExpired as exc:
            return self._expired(visit, exc)
        except SessionEnded as exc:
            # nothing of this request is kept: after the login it could be someone else's
            # session; the login page says why, and that a form sent now was not saved
            unsaved = request.method not in SAFE_METHODS
            return self.to_login(
                visit,
                next_path=request.full_path if not unsaved else None,
                ended=exc.reason + ("-unsaved" if unsaved else ""),
                cookies=self._clear_session(visit),
            )
        except (SessionMissing, SessionUnknown):
            return self.to_login(
                visit, next_path=request.full_path, cookies=self._clear_session(visit)
            )
        if check_csrf and request.method not in SAFE_METHODS:
            self.check_csrf(session, request)
        return session

    def authenticate(self, visit: Visit) -> Session:
        """The broker's check of the visit's session (:meth:`guard` asks it)."""
        return self.broker.authenticate(visit.token, visit.client)

    def _expired(self, visit: Visit, exc: SessionExpired) -> WebResponse:
        request = visit.request
        kept = None
        if request.method == "GET" or (
            request.method == "POST" and self._csrf_ok(exc.session, request)
        ):
            form = [(k, v) for k, v in request.form if k != self.config.csrf_field]
            try:
                kept = self.broker.keep_request(
                    visit.client, request.method, request.full_path, form, exc.account_id
                )
            except BridgeError:
                kept = None  # too large or not a local path: the login still goes on
        return self.to_login(
            visit,
            next_path=request.full_path if kept is None else None,
            kept=kept,
            cookies=self._clear_session(visit),
        )

    # -- CSRF: a token per session (and per bound value), HMAC under the broker's key ----------

    def csrf_token(self, session: Session, binding: str | None = None) -> str:
        """The session's CSRF token, or the token of ``binding`` (a value that must come
        back unchanged, such as a sealed secret)."""
        return self.broker.csrf_token(session, binding)

    def check_csrf(self, session: Session, request: WebRequest, binding: str | None = None) -> None:
        """Refuse (``session.csrf_invalid``) a form without the session's token, or without
        ``binding``'s token in the field ``seal``."""
        field = self.config.csrf_field if binding is None else "seal"
        self.broker.check_csrf(session, request.field(field), binding)

    def _csrf_ok(self, session: Session, request: WebRequest) -> bool:
        try:
            self.check_csrf(session, request)
        except SessionError:
            return False
        return True

    def _clear_session(self, visit: Visit) -> tuple[str, ...]:
        if visit.token is None:
            return ()
        settings = self.config.cookies
        return (clear_cookie_header(settings, settings.session_name),)

    # -- responses ---------------------------------------------------------------------------

    def to_login(
        self,
        visit: Visit,
        *,
        next_path: str | None = None,
        kept: str | None = None,
        ended: str | None = None,
        cookies: tuple[str, ...] = (),
    ) -> WebResponse:
        """A redirect to the login page, with where to return, the kept request, and why
        the session ended (see :data:`ENDED_NOTICES`)."""
        query = {}
        if next_path is not None and is_local_path(next_path):
            query["next"] = next_path
        if kept is not None:
            query["kept"] = kept
        if ended is not None:
            query["ended"] = ended
        location = self.config.url("/login") + ("?" + urlencode(query) if query else "")
        return self.redirect(visit, location).with_cookies(*cookies)

    def redirect(self, visit: Visit, location: str) -> WebResponse:
        """302 after a GET; 303 otherwise, so that the browser follows with a GET."""
        safe = visit.request.method in SAFE_METHODS
        return WebResponse.redirect(location, 302 if safe else 303)

    def page(self, template: str, status: int = 200, **context: Any) -> WebResponse:
        return WebResponse.page(template, status, **context)

    def providers(self) -> list[Provider]:
        """The enabled providers, in configuration order."""
        return [p for p in self.broker.providers if p.enabled]

    def provider(self, name: str) -> Provider:
        """The enabled provider ``name``, for a page about it (``broker.unknown_provider``
        or ``broker.provider_disabled`` otherwise, as the broker says)."""
        return self.broker.provider(name)

    def next_cookie(self, next_path: str | None) -> tuple[str, ...]:
        """The cookie that remembers ``next_path`` across the login (none if not local)."""
        if not next_path or not is_local_path(next_path) or len(next_path) > 2048:
            return ()
        value = base64url.encode(next_path.encode())
        return (set_cookie_header(self.config.cookies, NEXT_COOKIE, value),)

    def _after_login(self, visit: Visit) -> str:
        raw = visit.request.cookies.get(self.config.cookies.full_name(NEXT_COOKIE), "")
        try:
            path = base64url.decode(raw).decode() if raw else ""
        except (InvalidInput, UnicodeDecodeError):
            path = ""
        return path if is_local_path(path) else self.config.after_login

    # -- the broker's results ------------------------------------------------------------------

    def result(
        self,
        visit: Visit,
        result: StepResult | LinkedFromSettings | LinkRequested | StepUpDone,
        values: dict[str, str] | None = None,
    ) -> WebResponse:
        """The response to one of the broker's answers; ``values`` refill a local form."""
        if isinstance(result, Redirect):
            if result.fields:  # the IdP takes the request as a POST: the browser sends it
                return self.page("post_to_idp.html", action=result.url, fields=result.fields)
            return self.redirect(visit, result.url)
        if isinstance(result, LoggedIn):
            return self.logged_in(visit, result)
        if isinstance(result, LinkedFromSettings):
            return self.redirect(visit, self.config.url("/settings?done=linked"))
        if isinstance(result, LinkRequested):
            return self.page("link_requested.html")
        if isinstance(result, StepUpDone):  # return_to was checked to be a path of this site
            return self.redirect(visit, result.return_to or self.config.after_login)
        if isinstance(result, ChooseAccount):
            return self.page("chooser.html", form=result)
        if isinstance(result, LocalLoginForm):
            return self.local_form(result, values or {})
        return self.second_factor_form(result)

    def local_form(self, form: LocalLoginForm, values: dict[str, str]) -> WebResponse:
        status = 200 if form.error is None else self.status_of(form.error.code)
        listed = self.organisations(form.organisations)
        return self.page(
            "local_login.html",
            status,
            form=form,
            organisations=listed,
            organizations=listed,  # the old name, for templates of the host; one release
            values=values,
        ).retrying(form.error)

    def second_factor_form(self, form: SecondFactorForm) -> WebResponse:
        left = form.attempts_left
        status = 200 if form.error is None else self.status_of(form.error.code)
        page = self.page("second_factor.html", status, form=form, attempts_left=left)
        return page.retrying(form.error)

    def logged_in(self, visit: Visit, result: LoggedIn) -> WebResponse:
        """Set the new session cookie (replacing any old one) and a new browser id, then
        go on: replay a kept GET, show a kept POST's form filled in, or go where the login
        was asked from."""
        settings = self.config.cookies
        browser, browser_cookie = self.new_browser()
        cookies = (
            set_cookie_header(settings, settings.session_name, result.token),
            clear_cookie_header(settings, NEXT_COOKIE),
            browser_cookie,  # a new browser id: nothing from before the login goes on
        )
        restored = result.restored
        if restored is None:
            response = self.redirect(visit, self._after_login(visit))
        elif restored.method == "GET":
            response = self.redirect(visit, restored.path)
        elif self.config.restores_in_place(restored.path):
            response = self._restore_in_place(visit, restored, browser)
        else:
            csrf = self.csrf_token(result.session)
            response = self.page("restored.html", saved=restored, csrf_token=csrf)
        return response.with_cookies(*cookies)

    def _restore_in_place(self, visit: Visit, restored: SavedRequest, browser: str) -> WebResponse:
        """To the kept form's own page, with the fields kept again for the new browser id
        (the host's view takes them once, see :meth:`restored_for`)."""
        client = attrs.evolve(visit.client, browser_id=browser)
        try:
            keep_id = self.broker.keep_again(restored, client)
        except BridgeError:
            return self.page("restored.html", saved=restored)  # the store failed: show them
        path = restored.path
        joiner = "&" if "?" in path else "?"
        return self.redirect(visit, f"{path}{joiner}{urlencode({RESTORED_PARAM: keep_id})}")

    def restored_for(self, visit: Visit, session: Session) -> SavedRequest | None:
        """The kept POST that a login sent back to this page (``?restored=...``), once, for
        the browser and account that kept it; None otherwise."""
        request = visit.request
        keep_id = kept_id(request.query.get(RESTORED_PARAM))
        if request.method != "GET" or keep_id is None:
            return None
        if not self.config.restores_in_place(request.path):
            return None
        restored = self.broker.take_kept(keep_id, visit.client, session.account_id)
        if restored is None or restored.path.split("?", 1)[0] != request.path:
            return None
        return restored

    def status_of(self, code: str) -> int:
        """The HTTP status of an error code, as its class declares it (500 for a code no
        error class declares)."""
        found = declared().get(code)
        return 500 if found is None else found.status

    def organisations(self, narrowed: tuple[str, ...]) -> list[tuple[str, str]] | None:
        """(id, name) of the organisations for the login form's selector, by name; None
        when there are too many to list (the form then asks for the id as text)."""
        if narrowed:
            ids: set[str] = set(narrowed)
        else:
            listed = self.broker.organisations()
            if len(listed) > ORGANISATION_SCAN:
                return None
            return [(o.org_id, o.name) for o in listed]
        known = {o.org_id: o.name for o in self.broker.organisations(ids)}
        named = [(org_id, known.get(org_id, org_id)) for org_id in ids]
        return sorted(named, key=lambda p: (p[1], p[0]))

    organizations = organisations  # the old spelling, kept for one release
