"""Framework-neutral HTTP values: the adapters' configuration, a request, a response."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.sessions import CookieSettings, is_local_path

if TYPE_CHECKING:
    from sso_bridge.web.console.config import ConsoleConfig

__all__ = ["LANGUAGES", "RouteSpec", "WebConfig", "WebRequest", "WebResponse", "route_path"]

LANGUAGES = ("ru", "en")


def _check_prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not is_local_path(value + "/") or value.endswith("/") or "?" in value:
        raise ConfigError(
            f"{attribute.name} must be a path like /auth, not {value[:64]!r}",
            code="config.invalid",
        )


def _check_local(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not is_local_path(value):
        raise ConfigError(f"{attribute.name} must be a local path", code="config.invalid")


def _check_language(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LANGUAGES:
        raise ConfigError(f"language must be one of {LANGUAGES}", code="config.invalid")


def _check_limit(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer", code="config.invalid")


def _console(value: Any) -> Any:
    if value is None:
        return None
    from sso_bridge.web.console.config import console_config  # noqa: PLC0415 - a cycle

    return console_config(value)


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _strings(values: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    return tuple(os.fspath(v) for v in values)


@attrs.frozen
class WebConfig:
    """How the auth pages are mounted and shown.

    ``prefix`` is where the routes live; ``after_login`` where a login lands when it has
    nowhere else to go; ``trusted_proxies`` the reverse proxies whose ``X-Forwarded-For``
    is believed (addresses or networks); ``template_dirs`` are searched before the
    bundled templates, so a host can override any of them by name; ``language`` is the
    language of a page when neither the person's choice (the switch on every page) nor
    the browser's ``Accept-Language`` names one of :data:`LANGUAGES`; ``locale_dirs`` hold
    the host's own message catalogues (``<dir>/<lang>/LC_MESSAGES/*.po``), added over
    the library's (see :mod:`sso_bridge.web.catalogues`). ``restore_in_place`` lists path
    prefixes of the host's own forms that fill themselves in again: a POST kept there
    when the session expired goes back, after the next login, to its form's page (a GET
    of its path), whose view finds the kept fields as ``sso_restored`` (a
    :class:`~sso_bridge.sessions.SavedRequest`); elsewhere the bundled page shows the
    fields. ``template_globals`` are more names for the templates (functions and values
    of the host's layout, e.g. what its header shows for the ``session`` that the pages of a
    logged-in person are given). ``prefix`` and the paths the
    adapters report are full paths as the browser sees them (a host mounted under a
    sub-path includes it).

    What a request may carry (see docs/integration.md, "Limits"): a body of at most
    ``max_form_bytes`` (any method, any content type, counted while it streams in, so a
    chunked body without ``Content-Length`` is cut off at the limit too); at most
    ``max_form_fields`` form fields or query parameters, each name and value at most
    ``max_field_bytes``; a query string of at most ``max_query_bytes``; at most
    ``max_headers`` headers of at most ``max_header_bytes`` together.

    ``console`` switches the operator's console on (a
    :class:`~sso_bridge.web.console.ConsoleConfig` or its fields; docs/console.md).
    """

    prefix: str = attrs.field(default="/auth", validator=_check_prefix)
    after_login: str = attrs.field(default="/", validator=_check_local)
    cookies: CookieSettings = attrs.field(factory=CookieSettings)
    trusted_proxies: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    site_name: str = "Школьный портал"
    language: str = attrs.field(default="ru", validator=_check_language)
    template_dirs: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    locale_dirs: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    restore_in_place: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    template_globals: Mapping[str, Any] = attrs.field(factory=dict, converter=dict, eq=False)
    csrf_field: str = "csrf_token"
    max_form_bytes: int = attrs.field(default=1024 * 1024, validator=_check_limit)
    max_form_fields: int = attrs.field(default=256, validator=_check_limit)
    max_field_bytes: int = attrs.field(default=512 * 1024, validator=_check_limit)
    max_query_bytes: int = attrs.field(default=8 * 1024, validator=_check_limit)
    max_headers: int = attrs.field(default=100, validator=_check_limit)
    max_header_bytes: int = attrs.field(default=32 * 1024, validator=_check_limit)
    console: ConsoleConfig | None = attrs.field(default=None, converter=_console)

    def url(self, path: str) -> str:
        """``path`` (``/login``) under the prefix."""
        return self.prefix + path

    def restores_in_place(self, path: str) -> bool:
        """Whether the host's own page at ``path`` fills in a kept POST (see above)."""
        bare = path.split("?", 1)[0]
        return any(bare.startswith(prefix) for prefix in self.restore_in_place)


@attrs.frozen
class RouteSpec:
    """One route of the auth pages: method, path under the prefix (``{provider}`` is a
    path parameter) and the :class:`~sso_bridge.web.core.AuthRoutes` method serving it."""

    method: str
    path: str
    name: str

    def route(self, parameter: str = "{{{}}}") -> str:
        """:attr:`path` in a framework's spelling (see :func:`route_path`)."""
        return route_path(self.path, parameter)


def route_path(path: str, parameter: str) -> str:
    """``path`` with each path parameter (``{provider}``) written as ``parameter``, its
    name in ``{}``: ``"<{}>"`` for Flask, ``"<str:{}>"`` for Django."""
    return re.sub(r"\{(\w+)\}", lambda m: parameter.format(m.group(1)), path)


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


@attrs.frozen
class WebRequest:
    """A request as the adapters hand it over.

    ``query`` holds the first value of each parameter; ``form`` every field in order
    (uploaded files are left out); ``headers`` are keyed in lower case, repeated headers
    joined with ``", "``; ``remote_addr`` is the direct peer's address.
    """

    method: str
    path: str
    query: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    form: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    cookies: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    remote_addr: str = ""
    query_string: str = ""

    def field(self, name: str) -> str:
        """The first form field called ``name``, or ``""``."""
        return next((v for k, v in self.form if k == name), "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def full_path(self) -> str:
        """The path with its query string, as the browser asked for it."""
        return self.path + ("?" + self.query_string if self.query_string else "")


@attrs.frozen
class WebResponse:
    """What to answer: a redirect (``location``), a page (``template`` + ``context``) or
    a plain ``body``; ``cookies`` are ``Set-Cookie`` values, ``headers`` any others.
    ``language`` is the page's language (None: :attr:`WebConfig.language`) and ``here``
    the local path its language switch comes back to (None: no switch)."""

    status: int = 200
    location: str | None = None
    template: str | None = None
    context: Mapping[str, Any] = attrs.field(factory=dict)
    body: str | None = None
    cookies: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    language: str | None = None
    here: str | None = None

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> WebResponse:
        return cls(status=status, location=location)

    @classmethod
    def page(cls, template: str, status: int = 200, **context: Any) -> WebResponse:
        return cls(status=status, template=template, context=context)

    def retrying(self, error: BridgeError | None) -> WebResponse:
        """The same response with ``Retry-After`` (whole seconds) when ``error`` says how
        long a limit holds."""
        wait = None if error is None else error.retry_after
        if wait is None:
            return self
        seconds = str(max(1, math.ceil(wait.total_seconds())))
        return attrs.evolve(self, headers=(*self.headers, ("Retry-After", seconds)))

    def speaking(self, language: str, here: str | None = None) -> WebResponse:
        """The same response in ``language`` (unless it has one), its switch leading back
        to ``here``."""
        if self.language is not None:
            return self
        return attrs.evolve(self, language=language, here=self.here or here)

    def with_cookies(self, *values: str) -> WebResponse:
        """The same response setting these cookies too."""
        return attrs.evolve(self, cookies=(*self.cookies, *values)) if values else self
