"""Web adapters for the broker: the login, settings and account pages (Jinja2, in Russian
or English: :mod:`sso_bridge.web.language`), framework-neutral in
:mod:`sso_bridge.web.core`, mounted by :mod:`sso_bridge.web.starlette` (Starlette,
FastAPI) or :mod:`sso_bridge.web.flask`.

The adapters only translate requests and responses; errors become pages in one place,
:meth:`AuthRoutes.error_response`. See docs/integration.md.
"""

from sso_bridge.web.core import (
    ROUTES,
    Authenticated,
    AuthRoutes,
    RouteSpec,
    Templates,
    WebConfig,
    WebRequest,
    WebResponse,
)
from sso_bridge.web.errors import WebError

__all__ = [
    "ROUTES",
    "AuthRoutes",
    "Authenticated",
    "RouteSpec",
    "Templates",
    "WebConfig",
    "WebError",
    "WebRequest",
    "WebResponse",
]
