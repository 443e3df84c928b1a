"""The auth pages' URLs under :attr:`WebConfig.prefix`: ``path("", include(...))``."""

from __future__ import annotations

from django.urls import URLPattern, path

from sso_bridge.web.console.config import CONSOLE_ROUTES, DEFAULT_PREFIX
from sso_bridge.web.core import PATHS, PROBES
from sso_bridge.web.django.apps import web_config
from sso_bridge.web.django.views import console_route, probe, route
from sso_bridge.web.http import route_path

app_name = "sso_bridge"

_config = web_config()
_prefix = _config.prefix.lstrip("/")
# the console's views answer 404 while it is off; its prefix is read here, once
_console = (DEFAULT_PREFIX if _config.console is None else _config.console.prefix).lstrip("/")

urlpatterns: list[URLPattern] = [
    path(_prefix + route_path(at, "<str:{}>"), route(methods), name=next(iter(methods.values())))
    for at, methods in PATHS.items()
] + [path(_prefix + spec.path, probe(spec.name), name=spec.name) for spec in PROBES]
urlpatterns += [
    path(_console + spec.path, console_route(spec.name, spec.method), name=spec.name)
    for spec in CONSOLE_ROUTES
]
