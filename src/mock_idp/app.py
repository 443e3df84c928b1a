"""The mock IdP as an ASGI application (Starlette): ESIA's paths, a login page, an
admin API for tests.

    app = create_app(MockIdP.from_config(Path("idp.yaml"), base_url="http://127.0.0.1:8900"))

The mock runs on shared networks, in integration tests and demos, so it protects itself
(see ``docs/mock-idp.md``):

* ``/admin/*`` and ``/outbox`` answer only requests that carry the IdP's admin token
  (:attr:`MockIdP.admin_token`, made at start) in an ``X-Mock-IdP-Admin`` or
  ``Authorization: Bearer`` header; a browser form cannot send either, so they cannot be
  driven by cross-site requests;
* a login transaction is bound to the browser that was shown its login page (a cookie),
  and posts from another browser are refused;
* every request body is read with a limit while it streams (chunked ones too): past the
  limit the answer is 413 before the handler runs;
* every response carries framing, sniffing, referrer and caching headers;
* forms post to the configured base URL, never to one taken from the ``Host`` header.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from mock_idp.control import MockIdP, add_service_provider, write_saml_key
from mock_idp.paths import (
    ADMIN_HEADER,
    AUTHORIZE_PATHS,
    BROWSER_COOKIE,
    CERTIFICATES_ARCHIVE_PATH,
    CERTIFICATES_PATH,
    END_SESSION_PATH,
    ESIA_LOGOUT_PATH,
    ORGANISATION_PATH,
    TOKEN_PATHS,
)
from mock_idp.routes.admin import MAX_FAULT_RESPONSES, MAX_FAULTS, AdminHandlers
from mock_idp.routes.guard import (
    MAX_ADMIN_BODY_BYTES,
    MAX_FORM_BODY_BYTES,
    MAX_SAML_BODY_BYTES,
    SECURITY_HEADERS,
    Guard,
)
from mock_idp.routes.login import LoginHandlers
from mock_idp.routes.logout import LogoutHandlers
from mock_idp.routes.oidc import OidcHandlers
from mock_idp.routes.pages import TEXTS, BrowserBinding, unexpected
from mock_idp.routes.person import PersonHandlers
from mock_idp.routes.saml import SamlHandlers
from mock_idp.saml import ENTITY_ID_PATH, SLO_PATHS, SSO_PATHS

__all__ = [
    "ADMIN_HEADER",
    "AUTHORIZE_PATHS",
    "BROWSER_COOKIE",
    "CERTIFICATES_ARCHIVE_PATH",
    "CERTIFICATES_PATH",
    "END_SESSION_PATH",
    "ESIA_LOGOUT_PATH",
    "MAX_ADMIN_BODY_BYTES",
    "MAX_FAULTS",
    "MAX_FAULT_RESPONSES",
    "MAX_FORM_BODY_BYTES",
    "MAX_SAML_BODY_BYTES",
    "ORGANISATION_PATH",
    "SECURITY_HEADERS",
    "TEXTS",
    "TOKEN_PATHS",
    "MockIdP",
    "add_service_provider",
    "create_app",
    "write_saml_key",
]


class _MockApp(Starlette):
    """Starlette with :class:`~mock_idp.routes.guard.Guard` outside everything, error pages
    included."""

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(super().build_middleware_stack(), self.state.idp)


def create_app(idp: MockIdP) -> Starlette:
    """The ASGI application serving ``idp``."""
    browsers = BrowserBinding(idp)
    oidc = OidcHandlers(idp, browsers)
    login = LoginHandlers(idp, browsers)
    person = PersonHandlers(idp)
    saml = SamlHandlers(idp, browsers)
    admin = AdminHandlers(idp)
    logout = LogoutHandlers(idp, browsers)
    routes = [
        Route("/.well-known/openid-configuration", oidc.discovery),
        Route("/jwks", oidc.jwks),
        Route(CERTIFICATES_PATH, oidc.certificates),
        Route(CERTIFICATES_ARCHIVE_PATH, oidc.certificates_archive),
        *(Route(path, oidc.authorize) for path in AUTHORIZE_PATHS),
        Route("/login", login.login, methods=["POST"]),
        Route("/login/code", login.second_factor, methods=["POST"]),
        Route("/login/resend", login.resend, methods=["POST"]),
        Route("/login/cancel", login.cancel, methods=["POST"]),
        *(Route(path, oidc.token, methods=["POST"]) for path in TOKEN_PATHS),
        Route("/userinfo", oidc.userinfo, methods=["GET", "POST"]),
        Route("/rs/prns/{oid}", person.person),
        Route("/rs/prns/{oid}/roles", person.roles),
        Route("/rs/prns/{oid}/{collection:str}", person.collection),
        Route("/rs/prns/{oid}/{collection:str}/{item}", person.element),
        Route(ORGANISATION_PATH, person.organisation),
        Route(ESIA_LOGOUT_PATH, logout.esia_logout),
        Route(END_SESSION_PATH, logout.end_session, methods=["GET", "POST"]),
        Route(ENTITY_ID_PATH, saml.metadata),
        *(Route(path, saml.sso, methods=["GET", "POST"]) for path in SSO_PATHS.values()),
        *(Route(path, saml.slo, methods=["GET", "POST"]) for path in SLO_PATHS.values()),
        Route("/outbox", admin.outbox),
        Route("/admin/{action}", admin.admin, methods=["POST"]),
    ]
    app = _MockApp(routes=routes, exception_handlers={Exception: unexpected})
    app.state.idp = idp
    return app
