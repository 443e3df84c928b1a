"""The auth pages' URLs under :attr:`WebConfig.prefix`: ``path("", include(...))``."""

from __future__ import annotations

from django.urls import URLPattern, path

from sso_bridge.web.core import PATHS, PROBES
from sso_bridge.web.django.apps import web_config
from sso_bridge.web.django.views import probe, route
from sso_bridge.web.http import route_path

app_name = "sso_bridge"

_prefix = web_config().prefix.lstrip("/")

urlpatterns: list[URLPattern] = [
    path(_prefix + route_path(at, "<str:{}>"), route(methods), name=next(iter(methods.values())))
    for at, methods in PATHS.items()
] + [path(_prefix + spec.path, probe(spec.name), name=spec.name) for spec in PROBES]
