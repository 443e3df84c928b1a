"""The auth pages in a Django project, as a Django app. In settings.py::

    INSTALLED_APPS = [..., "sso_bridge.web.django"]
    TEMPLATES = [..., sso_bridge.web.django.TEMPLATES]  # the pages, through Django's loader
    SSO_BRIDGE = {"BROKER": "portal.bridge.broker", "CONFIG": {"site_name": "Школа № 17"}}

in urls.py ``path("", include("sso_bridge.web.django.urls"))`` (the routes carry
:attr:`~sso_bridge.web.WebConfig.prefix`), and on a protected view::

    @require_session  # from sso_bridge.web.django.views
    def grades(request: HttpRequest) -> HttpResponse:
        session = request.sso_session  # and request.sso_csrf_token

``BROKER`` is a :class:`~sso_bridge.broker.Broker`, or the dotted path of one or of a
function that builds one (called once, on the first request); ``CONFIG`` holds the fields
of :class:`~sso_bridge.web.WebConfig` (or is one). Translation only (see
:mod:`sso_bridge.web.core`). This module imports no Django, so settings.py may import it.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ENGINE", "TEMPLATES"]

ENGINE: Final = "sso_bridge"
"""The name of the template engine the pages are rendered with."""

TEMPLATES: Final[dict[str, Any]] = {
    "NAME": ENGINE,
    "BACKEND": "django.template.backends.jinja2.Jinja2",
    "DIRS": [],  # templates here (or in each app's jinja2/ with APP_DIRS) replace ours by name
    "APP_DIRS": False,
    "OPTIONS": {"environment": "sso_bridge.web.django.templates.environment"},
}
"""The Jinja2 engine of the pages, for ``settings.TEMPLATES``; without it they are
rendered by the library's own Jinja2 environment."""
