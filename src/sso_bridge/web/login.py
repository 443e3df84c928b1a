"""The login routes: the login page, the IdP round trip, the chooser, the local login and
the second factor. Each turns the request into one broker call and its answer into a page."""

from __future__ import annotations

from typing import Final

from sso_bridge.web.base import ENDED_NOTICES, RoutesBase, Visit, kept_id
from sso_bridge.web.http import WebRequest, WebResponse

__all__ = ["REPOST_FIELD", "SAML_FIELDS", "STEP_FIELD", "LoginPages", "step_id"]

REPOST_FIELD: Final = "sso_repost"
"""Marks a SAML answer that the browser re-sent from this site (see :meth:`saml_repost`)."""

SAML_FIELDS: Final = ("SAMLResponse", "SAMLRequest", "RelayState")
"""The fields of a SAML answer that the repost page sends again."""

STEP_FIELD: Final = "step_id"
"""The hidden form field with the login step's id: the same value that travels to the IdP
and back as OpenID Connect ``state`` or SAML ``RelayState``."""

_FORMER_STEP_FIELD: Final = "step"  # pages served before the rename; accepted for one release


def step_id(request: WebRequest) -> str:
    """The login step's id posted with a pre-login form (``""`` when there is none)."""
    return request.field(STEP_FIELD) or request.field(_FORMER_STEP_FIELD)


class LoginPages(RoutesBase):
    """The routes before a session exists; pre-login forms are protected by their
    one-time, browser-bound step id."""

    def login_page(self, visit: Visit) -> WebResponse:
        """GET /login: a button per provider and the local form (``?next=``, ``?kept=``)."""
        query = visit.request.query
        kept = kept_id(query.get("kept"))
        form = self.broker.begin_local(visit.client, kept=kept)
        listed = self.organisations(())
        notice = "kept_notice" if kept else None
        if query.get("done") == "logged_out":
            notice = "logged_out"
        notice = ENDED_NOTICES.get(query.get("ended") or "", notice)
        return self.page(
            "login.html",
            providers=self.providers(),
            form=form,
            kept=kept,
            organisations=listed,
            organizations=listed,  # the old name, for templates of the host; one release
            values={},
            notice=notice,
        ).with_cookies(*self.next_cookie(query.get("next")))

    def login_with(self, visit: Visit, provider: str) -> WebResponse:
        """GET /login/{provider}: off to the IdP."""
        kept = kept_id(visit.request.query.get("kept"))
        return self.result(visit, self.broker.begin_federated(provider, visit.client, kept=kept))

    def oidc_callback(self, visit: Visit, provider: str) -> WebResponse:
        """GET /callback/{provider}: the IdP's answer in the query (OIDC)."""
        params = visit.request.query
        return self.result(visit, self.broker.finish(provider, params, visit.client))

    def saml_acs(self, visit: Visit, provider: str) -> WebResponse:
        """POST /acs/{provider}: the IdP's answer in a form (SAML)."""
        form: dict[str, str] = {}
        for name, value in visit.request.form:
            if name != REPOST_FIELD:
                form.setdefault(name, value)
        return self.result(visit, self.broker.finish(provider, form, visit.client))

    def saml_repost(self, request: WebRequest) -> WebResponse:
        """The page that re-sends a SAML answer from this site.

        The IdP posts the answer from its own site, and browsers do not send
        ``SameSite=Lax`` cookies with such a cross-site POST, so the browser cookie that
        binds the login is missing. Posted again from this site it comes along. Only the
        SAML fields are sent back, once each; the body they came in was within the limit.
        """
        fields: list[tuple[str, str]] = []
        for name in SAML_FIELDS:
            value = request.field(name)
            if value:
                fields.append((name, value))
        fields.append((REPOST_FIELD, "1"))
        return self.page("saml_repost.html", action=request.path, fields=fields)

    def needs_repost(self, request: WebRequest) -> bool:
        """Whether a SAML answer came without the browser cookie, not yet re-sent."""
        return not self.has_browser(request) and not request.field(REPOST_FIELD)

    def form_again(self, visit: Visit) -> WebResponse:
        """GET of a login form's address (``/local``, ``/choose``, ``/second-factor``): what
        the address bar holds after those forms, reloaded or opened again. Their step lives
        in the form, not in the address, so the login starts again from its page."""
        return self.redirect(visit, self.config.url("/login"))

    # one name per route (a framework names its endpoints by them)
    local_again = choose_again = second_factor_again = form_again

    def local(self, visit: Visit) -> WebResponse:
        """POST /local: organisation, login and password."""
        request = visit.request
        org, login = request.field("org"), request.field("login")
        result = self.broker.local_login(
            step_id(request), org, login, request.field("password"), visit.client
        )
        return self.result(visit, result, {"org": org, "login": login})

    def choose(self, visit: Visit) -> WebResponse:
        """POST /choose: one of the offered accounts."""
        request = visit.request
        result = self.broker.choose(step_id(request), request.field("account"), visit.client)
        return self.result(visit, result)

    def choose_hide(self, visit: Visit) -> WebResponse:
        """POST /choose/hide: "do not offer this account" (its button in the chooser);
        the chooser again without it."""
        request = visit.request
        result = self.broker.hide(step_id(request), request.field("hide"), visit.client)
        return self.result(visit, result)

    def second_factor(self, visit: Visit) -> WebResponse:
        """POST /second-factor: the code (an old session of this browser is replaced)."""
        request = visit.request
        result = self.broker.second_factor(
            step_id(request), request.field("code"), visit.client, session_token=visit.token
        )
        return self.result(visit, result)

    def resend(self, visit: Visit) -> WebResponse:
        """POST /second-factor/resend: a new code."""
        return self.result(visit, self.broker.resend_code(step_id(visit.request), visit.client))
