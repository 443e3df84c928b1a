"""The Jinja2 environment of the auth pages and the headers every answer carries."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import attrs
from babel.support import Translations
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    pass_context,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from sso_bridge.web.catalogues import translations
from sso_bridge.web.http import LANGUAGES, WebConfig, WebResponse
from sso_bridge.web.texts import OLD_KEYS, PROVIDER_PREFIX, ROLE_NAMES, ROLE_PREFIX, error_id

__all__ = ["BUNDLED", "SWITCH_PATH", "Output", "Rendered", "Templates"]

Output = tuple[int, list[tuple[str, str]], str]
"""Status, headers (``Set-Cookie`` may repeat) and the body text (UTF-8)."""

BUNDLED = PackageLoader("sso_bridge.web", "templates")
"""The library's own templates."""

SWITCH_PATH = "/language"
"""The route (under the prefix) of the language switch: ``?to=<lang>&next=<local path>``."""


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

    Templates get, in the page's language ``lang`` (the response's, see
    :meth:`WebResponse.speaking`, else :attr:`WebConfig.language`): ``t(key, **values)``
    (a text of the catalogues, as escaped markup), ``t1(key, **values)`` (the same as a
    plain string, for attributes and titles), ``explain(code)`` (an error code's
    explanation), ``provider_title(provider)``, the ``role`` filter, ``_()`` of Jinja2's
    i18n extension, and ``language_switch()`` (links to the page in the other languages:
    code, name, URL).
    Also ``site_name``, ``prefix``, ``csrf_field``, ``nonce`` (for a ``<script>``), ``here``
    and the host's :attr:`WebConfig.template_globals`. The pages of a logged-in person
    also get their ``session``.
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
        Jinja2 environment, such as Django's Jinja2 template engine). One environment
        serves every language: each function reads the page's ``lang``."""
        config = self.config
        environment.add_extension("jinja2.ext.i18n")
        # the catalogue is picked per render, from the context, so that one environment
        # (Django's engine is one) serves every language
        environment.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=self._gettext, ngettext=self._ngettext, newstyle=True
        )
        environment.globals.update(
            t=self.both,
            t1=self.first,
            explain=self.explain,
            provider_title=self.provider_title,
            language_switch=self.language_switch,
            lang=config.language,
            site_name=config.site_name,
            prefix=config.prefix,
            csrf_field=config.csrf_field,
        )
        environment.globals.update(config.template_globals)
        environment.filters["role"] = self.role

    def language_of(self, context: Context) -> str:
        """The language of the page being rendered."""
        value = context.get("lang")
        return value if value in LANGUAGES else self.config.language

    def catalogue(self, language: str) -> Translations:
        """The messages of ``language``: the library's and the host's."""
        return translations(language, self.config.locale_dirs)

    def text(self, language: str, key: str, **values: Any) -> str:
        """The text ``key`` in ``language``, its ``{name}`` fields filled in."""
        return self.catalogue(language).gettext(OLD_KEYS.get(key, key)).format(**values)

    @pass_context
    def _gettext(self, context: Context, message: str) -> str:
        return self.catalogue(self.language_of(context)).gettext(message)

    @pass_context
    def _ngettext(self, context: Context, singular: str, plural: str, n: int) -> str:
        return self.catalogue(self.language_of(context)).ngettext(singular, plural, n)

    @pass_context
    def both(self, context: Context, key: str, **values: Any) -> Markup:
        """The text ``key`` in the page's language, as markup (``values`` escaped)."""
        text = self.catalogue(self.language_of(context)).gettext(OLD_KEYS.get(key, key))
        return escape(text).format(**values)

    @pass_context
    def first(self, context: Context, key: str, **values: Any) -> str:
        """The text ``key`` in the page's language (escaped when output)."""
        return self.text(self.language_of(context), key, **values)

    @pass_context
    def role(self, context: Context, name: str) -> str:
        """A role's name in the page's language (a role not in ``ROLE_NAMES`` as given)."""
        return self.role_name(self.language_of(context), name)

    def role_name(self, language: str, name: str) -> str:
        """A role's name in ``language`` (a role not in ``ROLE_NAMES`` as given)."""
        return self.text(language, ROLE_PREFIX + name) if name in ROLE_NAMES else name

    def provider_name(self, language: str, name: str, title: str) -> str:
        """How the pages name provider ``name``: the catalogues' ``provider.<name>`` in
        ``language`` when the host gives one, else its configured ``title``."""
        try:
            return self.catalogue(language).gettext(PROVIDER_PREFIX + name)
        except KeyError:
            return title

    @pass_context
    def provider_title(self, context: Context, provider: Any) -> str:
        """:meth:`provider_name` of a provider (its ``name`` and ``title``) on a page."""
        return self.provider_name(self.language_of(context), provider.name, provider.title)

    @pass_context
    def explain(self, context: Context, code: str) -> Markup:
        """What to tell the person about error ``code``, in the page's language."""
        return escape(self.catalogue(self.language_of(context)).gettext(error_id(code)))

    @pass_context
    def language_switch(self, context: Context) -> list[tuple[str, str, str]]:
        """Each other language as ``(code, its own name, the switch's URL)``; none when
        the page has no ``here`` to come back to."""
        here = context.get("here")
        if not here:
            return []
        current = self.language_of(context)
        url = self.config.url(SWITCH_PATH)
        return [
            (
                code,
                self.text(code, "language_name"),
                f"{url}?{urlencode({'to': code, 'next': here})}",
            )
            for code in LANGUAGES
            if code != current
        ]

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
            language = response.language or self.config.language
            context = {**response.context, "nonce": nonce, "lang": language}
            if response.here is not None:
                context["here"] = response.here
            body = self.render(response.template, context)
            headers.append(("Content-Type", "text/html; charset=utf-8"))
            headers.append(("Content-Language", language))
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
