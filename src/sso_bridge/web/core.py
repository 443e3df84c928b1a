"""The auth pages without a web framework: every route as a method taking a
:class:`WebRequest` and giving a :class:`WebResponse`, and the one place where errors
become pages. The Starlette, Flask and Django adapters only translate::

    routes = AuthRoutes(broker, WebConfig())
    web = routes.read(Head("GET", "/auth/login", remote_addr=ip), lambda r: r.request())
    response = routes.handle("login_page", web) if isinstance(web, WebRequest) else web
    routes.rendered(response).write(set_header, add_cookie)

What an adapter supplies: the request's :class:`~sso_bridge.web.incoming.Head`, its body
(:meth:`Reading.add`, :meth:`Reading.read_from`) and the framework's multipart parser;
how to set a header and add a ``Set-Cookie`` on its response; where a guarded view finds
the session (:class:`Authenticated`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from sso_bridge.broker import (
    Broker,
    LinkedFromSettings,
    LinkRequested,
    StepResult,
    StepUpDone,
)
from sso_bridge.errors import BridgeError
from sso_bridge.inline import Prefetched, refuse_blocking
from sso_bridge.observe import Exchange, Observe
from sso_bridge.sessions import (
    SavedRequest,
    Session,
    SessionExpired,
    SessionIpChanged,
    clear_cookie_header,
)
from sso_bridge.sessions.errors import SessionUnknown
from sso_bridge.web.account import AccountPages
from sso_bridge.web.base import Visit
from sso_bridge.web.console.pages import ConsolePages
from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.http import RouteSpec, WebConfig, WebRequest, WebResponse
from sso_bridge.web.incoming import Head, Reading
from sso_bridge.web.login import LoginPages
from sso_bridge.web.logout import LogoutPages
from sso_bridge.web.observed import (
    PROBES,
    Probes,
    RouteMetrics,
    instrument_stores,
    remember_result,
)
from sso_bridge.web.rendering import SWITCH_PATH, Output, Rendered, Templates
from sso_bridge.web.step_up import StepUpPages
from sso_bridge.web.switch import LanguagePages

__all__ = [
    "PATHS",
    "PROBES",
    "ROUTES",
    "AuthRoutes",
    "Authenticated",
    "Head",
    "Observe",
    "Reading",
    "Rendered",
    "RouteSpec",
    "Templates",
    "WebConfig",
    "WebRequest",
    "WebResponse",
]

_log = logging.getLogger(__name__)

ROUTES: Final[tuple[RouteSpec, ...]] = (
    RouteSpec("GET", "/login", "login_page"),
    RouteSpec("GET", "/login/{provider}", "login_with"),
    RouteSpec("GET", "/callback/{provider}", "oidc_callback"),
    RouteSpec("POST", "/acs/{provider}", "saml_acs"),
    RouteSpec("POST", "/local", "local"),
    RouteSpec("GET", "/local", "local_again"),
    RouteSpec("POST", "/choose", "choose"),
    RouteSpec("GET", "/choose", "choose_again"),
    RouteSpec("POST", "/choose/hide", "choose_hide"),
    RouteSpec("POST", "/second-factor", "second_factor"),
    RouteSpec("GET", "/second-factor", "second_factor_again"),
    RouteSpec("POST", "/second-factor/resend", "resend"),
    RouteSpec("GET", "/settings", "settings"),
    RouteSpec("GET", "/link/{provider}", "link_page"),
    RouteSpec("POST", "/link/{provider}", "link"),
    RouteSpec("POST", "/unlink", "unlink"),
    RouteSpec("POST", "/sessions/revoke", "revoke"),
    RouteSpec("POST", "/switch", "switch"),
    RouteSpec("POST", "/accounts/show", "show_account"),
    RouteSpec("GET", "/totp", "totp_page"),
    RouteSpec("POST", "/totp", "totp"),
    RouteSpec("POST", "/recovery-codes", "recovery_codes"),
    RouteSpec("POST", "/logout", "logout"),
    RouteSpec("POST", "/logout/everywhere", "logout_everywhere"),
    RouteSpec("GET", "/logout/done/{provider}", "logout_return"),
    RouteSpec("GET", "/slo/{provider}", "saml_slo"),
    RouteSpec("POST", "/slo/{provider}", "saml_slo_post"),
    RouteSpec("POST", "/backchannel-logout/{provider}", "backchannel_logout"),
    RouteSpec("POST", "/step-up", "step_up"),
    RouteSpec("GET", "/language", "language"),
)
"""Every auth route, under :attr:`WebConfig.prefix`."""


def _paths() -> Mapping[str, Mapping[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for spec in ROUTES:
        found.setdefault(spec.path, {})[spec.method] = spec.name
    return found


PATHS: Final = _paths()
"""Each path of :data:`ROUTES` with the route name of each of its methods, for frameworks
that route by path alone (Django)."""

_NAMES: Final = frozenset(r.name for r in ROUTES)


def _session_ended(exc: BridgeError) -> bool:
    """Whether ``exc`` says the browser's session is gone (its cookie is then cleared)."""
    return isinstance(exc, SessionIpChanged | SessionExpired | SessionUnknown)


@attrs.frozen
class Authenticated:
    """A request with a live session: the session, the CSRF token for the view's own
    forms, cookies to set on the view's response (a new browser's id), and the kept POST
    a login brought back to this page (:attr:`WebConfig.restore_in_place`), if any."""

    session: Session
    csrf_token: str
    cookies: tuple[str, ...] = ()
    restored: SavedRequest | None = None

    def write(self, cookie: Callable[[str], None]) -> None:
        """Add the cookies to the view's response: ``cookie(value)`` adds a ``Set-Cookie``."""
        for value in self.cookies:
            cookie(value)


def _issuers(broker: Broker) -> dict[str, str]:
    found: dict[str, str] = {}
    for provider in broker.providers:
        try:
            found[str(provider.issuer)] = provider.name
        except Exception:  # noqa: S112 - a provider that cannot say is counted as other
            continue
    return found


class AuthRoutes(LoginPages, AccountPages, StepUpPages, LogoutPages, LanguagePages):
    """The auth pages over a broker: :meth:`handle` serves a route of :data:`ROUTES`,
    :meth:`require` guards a view of the host application, :meth:`output` renders,
    :meth:`probe` answers :data:`PROBES`. ``observe`` says what is measured and exposed
    (:class:`~sso_bridge.observe.Observe`, or its fields)."""

    routes: Final = ROUTES
    probes: Final = PROBES

    def __init__(
        self,
        broker: Broker,
        config: WebConfig | None = None,
        templates: Templates | None = None,
        *,
        observe: Observe | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(broker, config, templates)
        console = self.config.console
        self.console = None if console is None else ConsolePages(self, console)
        """The operator's console when :attr:`WebConfig.console` switches it on."""
        self.observe = Observe.of(observe)
        self.counted = RouteMetrics(self.observe.metrics, _issuers(broker))
        self._probes = Probes(self.observe, broker)
        if self.observe.instrument_stores:
            instrument_stores(broker, self.observe.metrics)

    def handle(self, name: str, request: WebRequest, **params: str) -> WebResponse:
        """Serve route ``name`` (a :class:`RouteSpec` name) with its path ``params``."""
        if name not in _NAMES:
            raise KeyError(name)
        if name in ("saml_acs", "saml_slo_post") and self.needs_repost(request):
            return self.saml_repost(request)
        started = time.perf_counter()
        self.counted.begin()
        try:
            visit = self.visit(request)
        except BridgeError as exc:
            self._count(name, params, started, exc)
            return self.error_response(exc, request)
        error: BridgeError | None = None
        try:
            response: WebResponse = getattr(self, name)(visit, **params)
        except BridgeError as exc:
            error = exc
            response = self.error_response(exc, request)
        except Exception:
            _log.exception("unexpected failure serving %s %s", request.method, request.path)
            error = BridgeError("unexpected failure")
            response = self.error_response(error, request)
        self._count(name, params, started, error)
        # the visit's new browser cookie first, so that one set by the route (a login
        # gives the browser a new id) is the one the browser keeps
        response = attrs.evolve(response, cookies=(*visit.cookies, *response.cookies))
        return response.speaking(self.language_of(request), self.here(request))

    def _count(
        self, name: str, params: Mapping[str, str], started: float, error: BridgeError | None
    ) -> None:
        try:
            self.counted.step(name, params, time.perf_counter() - started, error)
        except Exception:  # a metric must never change an answer
            _log.exception("counting route %s failed", name)

    def result(
        self,
        visit: Visit,
        result: StepResult | LinkedFromSettings | LinkRequested | StepUpDone,
        values: dict[str, str] | None = None,
    ) -> WebResponse:
        remember_result(result)  # the step's outcome, for the metrics
        return super().result(visit, result, values)

    def authenticate(self, visit: Visit) -> Session:
        try:
            session = super().authenticate(visit)
        except BridgeError as exc:
            refuse_blocking()  # a refusal is handled (and counted) on a worker thread
            self.counted.validation(exc)
            raise
        self.counted.validation(None)
        return session

    async def prefetch(self, request: WebRequest) -> Prefetched | WebResponse | None:
        """What :meth:`require` of ``request`` reads from the session store, read without
        blocking, so that an async adapter can run it on the event loop
        (:mod:`sso_bridge.inline`); ``None``: run it on a worker thread; the error page
        :meth:`require` would answer when the store cannot be read."""
        token = request.cookies.get(self.config.cookies.session_cookie) or None
        try:
            return await self.broker.sessions.prefetch(token)
        except BridgeError as exc:
            self.counted.validation(exc)
            return self.error_response(exc, request)

    def probe(self, name: str) -> WebResponse:
        """The answer of a probe route of :data:`PROBES` (``healthz``, ``readyz``,
        ``metrics``; 404 while the metrics endpoint is off)."""
        return self._probes.serve(name)

    def exchange(self, method: str, path: str, request_id: str | None, ip: str = "") -> Exchange:
        """Open the log line of a request (see :class:`~sso_bridge.observe.Exchange`)."""
        return Exchange.open(method, path, request_id, ip, log=self.observe.request_log)

    def here(self, request: WebRequest) -> str:
        """Where a page's language switch leads back to: the page itself when it can be
        fetched again (a GET, but not the switch itself), else the after-login page."""
        if request.method == "GET" and request.path != self.config.url(SWITCH_PATH):
            return request.full_path
        return self.config.after_login

    def require(
        self, request: WebRequest, *, check_csrf: bool = True
    ) -> Authenticated | WebResponse:
        """The session of a request to a protected view, or the response to send instead
        (the login page; the request kept if the session expired; an error page).

        With ``check_csrf`` a POST, PUT, PATCH or DELETE must carry the session's CSRF
        token in the form field :attr:`WebConfig.csrf_field`.
        """
        try:
            visit = self.visit(request)
            outcome = self.guard(visit, check_csrf=check_csrf)
        except BridgeError as exc:
            return self.error_response(exc, request)
        if isinstance(outcome, WebResponse):
            return outcome.with_cookies(*visit.cookies)
        token = self.csrf_token(outcome)
        return Authenticated(outcome, token, visit.cookies, self.restored_for(visit, outcome))

    def error_response(self, exc: BridgeError, request: WebRequest) -> WebResponse:
        """The error page of ``exc``: its code's HTTP status, what to do in the request's
        language (the generic text for codes without one) and the code; never a trace.
        A request refused while it was read is answered with ``Connection: close``."""
        cookies: tuple[str, ...] = ()
        settings = self.config.cookies
        if _session_ended(exc) and request.cookies.get(settings.session_cookie):
            cookies = (clear_cookie_header(settings, settings.session_name),)
        response = WebResponse.page(
            "error.html",
            self.status_of(exc.code),
            code=exc.code,
            login_url=self.config.url("/login"),
        )
        if isinstance(exc, RequestRefused):
            # part of the body may still be on its way: never read it, end the connection
            response = attrs.evolve(response, headers=(("Connection", "close"),))
        response = response.speaking(self.language_of(request), self.here(request))
        return response.retrying(exc).with_cookies(*cookies)

    def output(self, response: WebResponse) -> Output:
        """Status, headers and body of ``response``, ready to send."""
        return self.templates.output(response)

    # -- what the framework adapters call -------------------------------------------------------

    def reading(self, head: Head) -> Reading:
        """Start reading a request (its head is checked here; may refuse)."""
        return Reading(self.config, head)

    def read(self, head: Head, body: Callable[[Reading], WebRequest]) -> WebRequest | WebResponse:
        """The request whose ``body`` the adapter reads (synchronously) into the
        :class:`Reading`, or the error page of a refusal while it was read."""
        try:
            return body(self.reading(head))
        except BridgeError as exc:
            return self.refusal(exc, head)

    def refusal(self, exc: BridgeError, head: Head) -> WebResponse:
        """The error page of a request refused while it was read."""
        return self.error_response(exc, head.bare())

    def serve(self, name: str, read: WebRequest | WebResponse, **params: str) -> WebResponse:
        """Route ``name`` for a request read by :meth:`read` (its refusal as it is)."""
        return read if isinstance(read, WebResponse) else self.handle(name, read, **params)

    def admit(self, read: WebRequest | WebResponse) -> Authenticated | WebResponse:
        """:meth:`require` for a request read by :meth:`read` (its refusal as it is)."""
        return read if isinstance(read, WebResponse) else self.require(read)

    def rendered(self, response: WebResponse) -> Rendered:
        """``response`` rendered, for :meth:`Rendered.write` onto the framework's response."""
        return self.templates.rendered(response)
