"""The pages through Django's template loader: the Jinja2 environment of the engine
:data:`sso_bridge.web.django.TEMPLATES`, and the renderer that uses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template import engines, loader
from jinja2 import BaseLoader, Environment, FileSystemLoader

from sso_bridge.web.django import ENGINE
from sso_bridge.web.django.apps import web_config
from sso_bridge.web.rendering import Templates, with_bundled

__all__ = ["DjangoTemplates", "environment"]


def environment(**options: Any) -> Environment:
    """Django's Jinja2 environment for the pages: the engine's ``DIRS`` (and app
    ``jinja2/`` directories) first, then :attr:`WebConfig.template_dirs`, then ours."""
    config = web_config()
    found: list[BaseLoader] = [options.pop("loader")]
    if config.template_dirs:
        found.append(FileSystemLoader(list(config.template_dirs)))
    options.pop("autoescape", None)  # the pages are always escaped
    made = Environment(loader=with_bundled(*found), autoescape=True, **options)
    Templates(config).install(made)
    return made


class DjangoTemplates(Templates):
    """Renders with the engine named :data:`~sso_bridge.web.django.ENGINE` when the
    project configures it, else with the library's own environment."""

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        if ENGINE not in engines.templates:
            return super().render(name, context)
        # no request: the page's csrf_token is the session's, not Django's
        return loader.get_template(name, using=ENGINE).render(dict(context))
