"""The console's routes without a web framework: the role check, the pages, the
confirmation of every action, its CSRF token and its error pages. The adapters only
translate (see :meth:`ConsolePages.answer`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

import attrs

from sso_bridge.errors import BridgeError, LinkNotFound
from sso_bridge.web.base import RoutesBase, Visit
from sso_bridge.web.console.actions import Operator, OperatorActions, check_operator
from sso_bridge.web.console.config import CONSOLE_ROUTES, ConsoleConfig
from sso_bridge.web.console.errors import ConsoleError, ConsoleForbidden
from sso_bridge.web.console.views import MAX_PAGE, field, search, summary
from sso_bridge.web.devices import device_name
from sso_bridge.web.http import WebRequest, WebResponse

__all__ = ["ACTIONS", "FORBIDDEN_BODY", "ConsolePages"]

_log = logging.getLogger(__name__)

ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "unlink": ("account", "issuer", "subject"),
    "unlock_password": ("account",),
    "unlock_second_factor": ("account",),
    "reset_totp": ("account",),
    "end_sessions": ("account",),
    "approve": ("request",),
    "refuse": ("request",),
}
"""Every action of the console, with the form fields it takes."""

FORBIDDEN_BODY: Final = "403 " + ConsoleForbidden.code
"""All that a request the role check refuses is told."""

_NAMES: Final = frozenset(spec.name for spec in CONSOLE_ROUTES)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%d.%m.%Y %H:%M} UTC"


def _page(value: str | None) -> int:
    if not value:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise ConsoleError(f"a page is a number from 1 to {MAX_PAGE}", code="console.bad_input")
    return int(value)


class ConsolePages:
    """The operator's console over the auth pages' broker, configuration and templates."""

    def __init__(self, routes: RoutesBase, config: ConsoleConfig) -> None:
        self.routes = routes
        self.config = config
        self.actions = OperatorActions(routes.broker, config.link_requests)

    # -- what the adapters call ------------------------------------------------------------

    def operator(self, native: Any) -> str | None:
        """The host's role check of ``native`` (the framework's request): the operator's
        id, or None (also when the check fails or gives something that is not an id)."""
        try:
            found = self.config.role_check(native)
        except Exception:
            _log.exception("the console's role check failed; the request is refused")
            return None
        return check_operator(found)

    def forbidden(self) -> WebResponse:
        """The answer to a request the role check refused: 403, and nothing else."""
        return WebResponse(status=403, body=FORBIDDEN_BODY)

    def answer(
        self, name: str, native: Any, read: Callable[[], WebRequest | WebResponse]
    ) -> WebResponse:
        """Route ``name`` for the framework's request ``native``: the role check first
        (its body is not even read when it fails), then ``read()`` (the
        :class:`WebRequest`, or the refusal while it was read)."""
        operator = self.operator(native)
        if operator is None:
            return self.forbidden()
        request = read()
        if isinstance(request, WebResponse):
            return request
        return self.serve(name, request, operator)

    def handle(self, name: str, request: WebRequest) -> WebResponse:
        """Route ``name`` of :data:`CONSOLE_ROUTES` with the role check given ``request``
        itself (a host calling the core without a framework)."""
        operator = self.operator(request)
        return self.forbidden() if operator is None else self.serve(name, request, operator)

    def serve(self, name: str, request: WebRequest, operator: str) -> WebResponse:
        """Route ``name`` for an operator the role check admitted."""
        if name not in _NAMES:
            raise KeyError(name)
        language = self.routes.language_of(request)
        try:
            visit = self.routes.visit(request)
        except BridgeError as exc:
            return self.error(exc).speaking(language)
        try:
            response: WebResponse = getattr(self, "_" + name)(visit, operator)
        except BridgeError as exc:
            response = self.error(exc)
        except Exception:
            _log.exception("unexpected failure serving %s %s", request.method, request.path)
            response = self.error(BridgeError("unexpected failure"))
        response = attrs.evolve(response, cookies=(*visit.cookies, *response.cookies))
        return response.speaking(language, request.full_path if request.method == "GET" else None)

    def error(self, exc: BridgeError) -> WebResponse:
        """The console's page of ``exc``: its code's status, the explanation and the code."""
        page = self.page("console/error.html", self.routes.status_of(exc.code), code=exc.code)
        return page.retrying(exc)

    # -- helpers ---------------------------------------------------------------------------

    def page(self, template: str, status: int = 200, **context: Any) -> WebResponse:
        return WebResponse.page(template, status, console=self.config.prefix, **context)

    def _binding(self, visit: Visit, operator: str) -> str:
        # bound to the operator and to this browser: a token is no use to anyone else
        return f"console\x00{operator}\x00{visit.client.browser_id}"

    def csrf_token(self, visit: Visit, operator: str) -> str:
        """The CSRF token of the console's forms for ``operator`` in this browser."""
        return self.routes.broker.sessions.csrf_token_for(self._binding(visit, operator))

    def check_csrf(self, visit: Visit, operator: str) -> None:
        """Refuse (``session.csrf_invalid``) a form without the operator's token."""
        token = visit.request.field(self.routes.config.csrf_field)
        self.routes.broker.sessions.check_csrf_for(self._binding(visit, operator), token)

    def _label(self, account_id: str) -> str:
        found = self.routes.broker.account_and_organisation(account_id)
        if found is None:
            return account_id
        account, organisation = found
        place = account.org_id if organisation is None else organisation.name
        return f"{account.login or account.account_id} — {place}"

    def _titles(self, language: str) -> dict[str, str]:
        templates = self.routes.templates
        return {
            p.issuer: templates.provider_name(language, p.name, p.title)
            for p in self.routes.broker.providers
        }

    # -- the pages ---------------------------------------------------------------------------

    def _console_search(self, visit: Visit, operator: str) -> WebResponse:
        """GET <prefix>: the search forms, and the accounts found."""
        query = dict(visit.request.query)
        found = search(self.actions, query)
        broker = self.routes.broker
        results = []
        for account in () if found is None else found.found:
            place = broker.account_and_organisation(account.account_id)
            organisation = place[1] if place is not None else None
            results.append(
                {
                    "account": account,
                    "organisation": account.org_id if organisation is None else organisation.name,
                }
            )
        return self.page(
            "console/search.html",
            section="search",
            operator=operator,
            organisations=self.routes.organisations(()),
            query=query,
            searched=found,
            results=results,
        )

    def _console_account(self, visit: Visit, operator: str) -> WebResponse:
        """GET <prefix>/account?id=...&page=N: the account, its links, sessions, locks,
        second factor, pending requests and audit timeline."""
        query = visit.request.query
        account_id = field(query.get("id", ""), "id")
        shown = summary(self.actions, account_id, _page(query.get("page")), self.config.page_size)
        language = self.routes.language_of(visit.request)
        base = self.config.url("/account") + "?" + urlencode({"id": account_id})
        return self.page(
            "console/account.html",
            operator=operator,
            shown=shown,
            titles=self._titles(language),
            devices={s.session_id: device_name(s.user_agent) for s in shown.sessions},
            when=_when,
            page_url=lambda n: f"{base}&{urlencode({'page': n})}#timeline-heading",
            done=query.get("done") if query.get("done") in ACTIONS else None,
            csrf_token=self.csrf_token(visit, operator),
        )

    def _console_requests(self, visit: Visit, operator: str) -> WebResponse:
        """GET <prefix>/requests: the pending link requests, oldest first."""
        requests = self.actions.requests
        language = self.routes.language_of(visit.request)
        pending = [] if requests is None else requests.pending()
        done = visit.request.query.get("done")
        return self.page(
            "console/requests.html",
            section="requests",
            operator=operator,
            kept=requests is not None,
            pending=[{"request": r, "label": self._label(r.account_id)} for r in pending],
            titles=self._titles(language),
            when=_when,
            done=done if done in ("approve", "refuse") else None,
            csrf_token=self.csrf_token(visit, operator),
        )

    def _console_act(self, visit: Visit, operator: str) -> WebResponse:
        """POST <prefix>/act: an action's confirmation page, then (``confirmed=yes``) the
        action itself and back to where it came from."""
        self.check_csrf(visit, operator)
        request = visit.request
        action = request.field("action")
        if action not in ACTIONS:
            raise ConsoleError(f"no console action {action[:64]!r}", code="console.unknown_action")
        values = {name: field(request.field(name), name) for name in ACTIONS[action]}
        back = "account" if request.field("back") == "account" else "requests"
        target = self._target(action, values)
        if request.field("confirmed") != "yes":
            language = self.routes.language_of(request)
            return self.page(
                "console/confirm.html",
                operator=operator,
                action=action,
                values=values,
                back=back,
                target=target,
                label=self._label(target),
                titles=self._titles(language),
                cancel=self._back(action, back, target, done=False),
                csrf_token=self.csrf_token(visit, operator),
            )
        client = visit.client
        who = Operator.of(operator, str(client.ip), client.user_agent)
        self._do(action, who, values)
        return WebResponse.redirect(self._back(action, back, target, done=True), 303)

    def _target(self, action: str, values: Mapping[str, str]) -> str:
        """The account an action is about, once its target is known to exist."""
        if "request" in values:
            return self.actions.link_requests().get(values["request"]).account_id
        account_id = values["account"]
        self.actions.account(account_id)
        if action == "unlink":
            pair = (values["issuer"], values["subject"])
            links = self.routes.broker.links.links_for_account(account_id)
            if pair not in {(link.issuer, link.subject) for link in links}:
                raise LinkNotFound(f"no link of account {account_id[:64]!r} to that subject")
        return account_id

    def _do(self, action: str, who: Operator, values: Mapping[str, str]) -> None:
        actions = self.actions
        if action == "unlink":
            actions.unlink(who, values["account"], values["issuer"], values["subject"])
        elif action == "approve":
            actions.approve(who, values["request"])
        elif action == "refuse":
            actions.refuse(who, values["request"])
        else:
            getattr(actions, action)(who, values["account"])

    def _back(self, action: str, back: str, account_id: str, *, done: bool) -> str:
        extra = {"done": action} if done else {}
        if "request" in ACTIONS[action] and back == "requests":
            return self.config.url("/requests") + ("?" + urlencode(extra) if extra else "")
        return self.config.url("/account") + "?" + urlencode({"id": account_id, **extra})
