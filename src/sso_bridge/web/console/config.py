"""How the operator's console is switched on: the host's role check, where it is
mounted, and where pending link requests are kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from sso_bridge.errors import ConfigError
from sso_bridge.linking.requests import LinkRequestStore
from sso_bridge.sessions import is_local_path
from sso_bridge.web.http import RouteSpec

__all__ = ["CONSOLE_ROUTES", "DEFAULT_PREFIX", "ConsoleConfig", "RoleCheck", "console_config"]

RoleCheck = Callable[[Any], "str | None"]
"""The host's check: the framework's own request in, the operator's id out (None: not an
operator of the console)."""

DEFAULT_PREFIX: Final = "/auth/console"

CONSOLE_ROUTES: Final[tuple[RouteSpec, ...]] = (
    RouteSpec("GET", "", "console_search"),
    RouteSpec("GET", "/account", "console_account"),
    RouteSpec("GET", "/requests", "console_requests"),
    RouteSpec("POST", "/act", "console_act"),
)
"""Every route of the console, under :attr:`ConsoleConfig.prefix` (the search page is the
prefix itself)."""


def _check_prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not is_local_path(value + "/") or value.endswith("/") or "?" in value or "{" in value:
        raise ConfigError(
            f"the console prefix must be a path like {DEFAULT_PREFIX}, not {value[:64]!r}",
            code="config.invalid",
        )


def _check_role_check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise ConfigError(
            "the console needs role_check: a function of the request giving the operator's "
            "id, or None",
            code="config.invalid",
        )


def _check_page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value <= 200:
        raise ConfigError("page_size must be an integer from 1 to 200", code="config.invalid")


def _check_store(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, LinkRequestStore):
        raise ConfigError("link_requests must be a LinkRequestStore", code="config.invalid")


@attrs.frozen
class ConsoleConfig:
    """The console of :class:`~sso_bridge.web.http.WebConfig` (``console=``; without one
    the console's routes do not exist).

    ``role_check(request)`` is the host's own authentication of its operators: it gets the
    framework's request (Starlette's ``Request``, ``flask.Request``, Django's
    ``HttpRequest``; the :class:`~sso_bridge.web.http.WebRequest` itself when the core is
    called directly) and returns the operator's id, or None to answer 403. The broker's
    session of a person is never an operator by itself. ``prefix`` is where the pages
    are; ``page_size`` the audit records per page of an account's timeline;
    ``link_requests`` where pending link requests are kept (None: the broker's link store
    when it keeps them too, as ``SqlStore`` does).
    """

    role_check: RoleCheck = attrs.field(validator=_check_role_check)
    prefix: str = attrs.field(default=DEFAULT_PREFIX, validator=_check_prefix)
    page_size: int = attrs.field(default=20, validator=_check_page_size)
    link_requests: LinkRequestStore | None = attrs.field(default=None, validator=_check_store)

    def url(self, path: str) -> str:
        """``path`` (``/account``) under the prefix."""
        return self.prefix + path


def console_config(value: ConsoleConfig | Mapping[str, Any] | None) -> ConsoleConfig | None:
    """A :class:`ConsoleConfig` from itself or its fields (Django's settings hold a dict)."""
    if value is None or isinstance(value, ConsoleConfig):
        return value
    if isinstance(value, Mapping):
        return ConsoleConfig(**value)
    raise ConfigError("console must be a ConsoleConfig or its fields", code="config.invalid")
