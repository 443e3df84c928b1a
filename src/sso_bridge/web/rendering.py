"""The Jinja2 environment of the auth pages and the headers every answer carries."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import attrs
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

__all__ = ["BUNDLED", "Output", "Rendered", "Templates"]

Output = tuple[int, list[tuple[str, str]], str]
"""Status, headers (``Set-Cookie`` may repeat) and the body text (UTF-8)."""

BUNDLED = PackageLoader("sso_bridge.web", "templates")
"""The library's own templates."""

_BILINGUAL = Markup('<span lang="{0}">{1}</span> <span class="other" lang="{2}">{3}</span>')


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        f"script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"
    )


def with_bundled(*loaders: BaseLoader) -> ChoiceLoader:
    """``loaders`` first, then the bundled templates; ``sso_bridge/<name>`` is always the
    bundled template, so that a host's own ``base.html`` can extend the bundled one."""
    return ChoiceLoader([*loaders, BUNDLED, PrefixLoader({"sso_bridge": BUNDLED})])


@attrs.frozen
class Rendered:
    """A response ready to send: status, headers, ``Set-Cookie`` values and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[str, ...]
    body: str

    def write(self, header: Callable[[str, str], None], cookie: Callable[[str], None]) -> None:
        """Hand every header to the framework's response: ``header(name, value)`` sets
        one, ``cookie(value)`` adds one ``Set-Cookie`` (they repeat)."""
        for name, value in self.headers:
            header(name, value)
        for value in self.cookies:
            cookie(value)


class Templates:
    """Renders the pages; a template in one of ``config.template_dirs`` replaces the
    bundled one of the same name.

    Templates get ``t(key, **values)`` (the text in both languages, as markup),
    ``t1(key, **values)`` (the first language only, for attributes and titles),
    ``explain(code)`` (an error code's explanation in both languages), ``lang``,
    ``site_name``, ``prefix``, ``csrf_field``, ``nonce`` (for a ``<script>``) and the
    host's :attr:`WebConfig.template_globals`. The pages of a logged-in person also get
    their ``session``.
    """

    def __init__(self, config: WebConfig) -> None:
        self.config = config

    @cached_property
    def environment(self) -> Environment:
        """The Jinja2 environment of the pages, built on first use."""
        loaders: list[BaseLoader] = []
        if self.config.template_dirs:
            loaders.append(FileSystemLoader(list(self.config.template_dirs)))
        environment = Environment(loader=with_bundled(*loaders), autoescape=True)
        self.install(environment)
        return environment

    def install(self, environment: Environment) -> None:
        """Give ``environment`` the functions and values the pages use (for a host's own
        Jinja2 environment, such as Django's Jinja2 template engine)."""
        config = self.config
        environment.globals.update(
            t=self.both,
            t1=self.first,
            explain=self.explain,
            lang=config.language,
            site_name=config.site_name,
            prefix=config.prefix,
            csrf_field=config.csrf_field,
        )
        environment.globals.update(config.template_globals)
        environment.filters["role"] = self.role

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
            if not any(name.lower() == "content-type" for name, _ in response.headers):
                headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return response.status, headers, body

    def rendered(self, response: WebResponse) -> Rendered:
        """:meth:`output` with the ``Set-Cookie`` values apart."""
        status, headers, body = self.output(response)
        plain = tuple((n, v) for n, v in headers if n != "Set-Cookie")
        cookies = tuple(v for n, v in headers if n == "Set-Cookie")
        return Rendered(status, plain, cookies, body)
