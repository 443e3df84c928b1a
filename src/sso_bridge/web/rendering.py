"""The Jinja2 environment of the auth pages and the headers every answer carries."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
)
from markupsafe import Markup, escape

from sso_bridge.web.http import WebConfig, WebResponse
from sso_bridge.web.texts import GENERIC_ERROR, ROLE_NAMES, TEXTS, Pair, error_text

__all__ = ["Output", "Templates"]

Output = tuple[int, list[tuple[str, str]], str]
"""Status, headers (``Set-Cookie`` may repeat) and the body text (UTF-8)."""

_BILINGUAL = Markup('<span lang="{0}">{1}</span> <span class="other" lang="{2}">{3}</span>')


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        f"script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"
    )


class Templates:
    """Renders the pages; a template in one of ``config.template_dirs`` replaces the
    bundled one of the same name.

    Templates get ``t(key, **values)`` (the text in both languages, as markup),
    ``t1(key, **values)`` (the first language only, for attributes and titles),
    ``explain(code)`` (an error code's explanation in both languages), ``lang``,
    ``site_name``, ``prefix``, ``csrf_field`` and ``nonce`` (for a ``<script>``).
    """

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        loaders: list[BaseLoader] = []
        if config.template_dirs:
            loaders.append(FileSystemLoader(list(config.template_dirs)))
        bundled = PackageLoader("sso_bridge.web", "templates")
        loaders.append(bundled)
        # "sso_bridge/<name>" is always the bundled template, so that a host's own
        # base.html can extend the bundled one instead of copying it
        loaders.append(PrefixLoader({"sso_bridge": bundled}))
        self.environment = Environment(loader=ChoiceLoader(loaders), autoescape=True)
        self.environment.globals.update(
            t=self.both,
            t1=self.first,
            explain=self.explain,
            lang=config.language,
            site_name=config.site_name,
            prefix=config.prefix,
            csrf_field=config.csrf_field,
        )
        self.environment.filters["role"] = self.role

    def _ordered(self, pair: Pair) -> tuple[tuple[str, str], tuple[str, str]]:
        russian, english = ("ru", pair[0]), ("en", pair[1])
        return (russian, english) if self.config.language == "ru" else (english, russian)

    def _pair(self, pair: Pair, values: Mapping[str, Any]) -> Markup:
        (lang1, text1), (lang2, text2) = self._ordered(pair)
        return _BILINGUAL.format(
            lang1, escape(text1).format(**values), lang2, escape(text2).format(**values)
        )

    def both(self, key: str, **values: Any) -> Markup:
        """``TEXTS[key]`` in both languages, the configured one first."""
        return self._pair(TEXTS[key], values)

    def first(self, key: str, **values: Any) -> str:
        """``TEXTS[key]`` in the configured language only (escaped when output)."""
        return self._ordered(TEXTS[key])[0][1].format(**values)

    def role(self, name: str) -> str:
        """A role's name in the page's language (a role not in ``ROLE_NAMES`` as given)."""
        pair = ROLE_NAMES.get(name)
        if pair is None:
            return name
        return pair[0] if self.config.language == "ru" else pair[1]

    def explain(self, code: str) -> Markup:
        """What to tell the person about error ``code``, in both languages."""
        return self._pair(error_text(code) or GENERIC_ERROR, {})

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.environment.get_template(name).render(context)

    def output(self, response: WebResponse) -> Output:
        """The status, headers and body to send for ``response``."""
        nonce = secrets.token_urlsafe(16)
        headers = [
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            # the callback URL carries the authorization code: never leak it onward
            ("Referrer-Policy", "no-referrer"),
            *response.headers,
            *(("Set-Cookie", value) for value in response.cookies),
        ]
        body = ""
        if response.location is not None:
            headers.append(("Location", response.location))
        elif response.template is not None:
            body = self.render(response.template, {**response.context, "nonce": nonce})
            headers.append(("Content-Type", "text/html; charset=utf-8"))
            headers.append(("Content-Security-Policy", _csp(nonce)))
        else:
            body = response.body or ""
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return response.status, headers, body
