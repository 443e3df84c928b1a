"""What every ``sso-bridge`` command shares: escaped text, JSON, errors and exit statuses.

All human-readable output goes through :func:`text` (the audit trail's escaping), so that
a value from a CSV file, an identity or the command line cannot forge a line or rewrite
the terminal. Errors become one line (or, with ``--json``, one JSON object on stdout)
and an exit status chosen from the error code in :func:`exit_status` alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, TypeVar

import click

from sso_bridge.audit.show import escape, json_safe
from sso_bridge.errors import BridgeError, InvalidInput, declared
from sso_bridge.importing.errors import ImportRejected

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_NOT_FOUND",
    "EXIT_STORE",
    "EXIT_USAGE",
    "echo_json",
    "exit_status",
    "fail",
    "identifier",
    "json_option",
    "text",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
"""An unexpected error (``bridge.error``); report it."""
EXIT_USAGE = 2
"""Options that do not parse or do not fit together (``cli.usage``)."""
EXIT_BAD_INPUT = 3
"""Bad input: a file, identity or value given to the command (HTTP 4xx codes)."""
EXIT_NOT_FOUND = 4
"""Something named is absent, or conflicts with what is stored (HTTP 404 and 409 codes)."""
EXIT_STORE = 5
"""The database cannot be reached or reported an error (``store.unavailable``, ...)."""
EXIT_CONFIG = 6
"""The setup is wrong: database URL, key, a database made with another key or version
(every other HTTP 500 code)."""

JSON_META = "sso_bridge.json"
"""Key in ``click.Context.meta``: whether ``--json`` was given."""


_EXIT_OF_CODE: Final[Mapping[str, int]] = {
    "cli.usage": EXIT_USAGE,
    "store.error": EXIT_STORE,
    "bridge.error": EXIT_FAILURE,
}
"""The codes whose exit status is not the one of their HTTP status."""


def exit_status(code: str) -> int:
    """The exit status of the error ``code`` (the one place that decides it)."""
    fixed = _EXIT_OF_CODE.get(code)
    if fixed is not None:
        return fixed
    found = declared().get(code)
    status = 500 if found is None else found.status
    if status in (404, 409):
        return EXIT_NOT_FOUND
    if status == 503:
        return EXIT_STORE
    if 400 <= status < 500 or status == 502:  # 502: a token or reply handed in is malformed
        return EXIT_BAD_INPUT
    return EXIT_CONFIG


def text(value: object) -> str:
    """``value`` for a terminal: control and invisible format characters escaped."""
    return escape(value if isinstance(value, str) else str(value))


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON with every control character escaped."""
    click.echo(json_safe(json.dumps(data, ensure_ascii=False, indent=2)))


def fail(exc: BridgeError, as_json: bool) -> NoReturn:
    """Report ``exc`` (one line on stderr, or JSON on stdout) and exit with its status."""
    rows = [str(row) for row in exc.errors] if isinstance(exc, ImportRejected) else []
    if as_json:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if rows:
            error["rows"] = rows
        echo_json({"error": error})
    else:
        for row in rows:
            click.echo(text(row), err=True)
        click.echo(f"error: {exc.code}: {text(exc.message)}", err=True)
    sys.exit(exit_status(exc.code))


def json_option(func: F) -> F:
    """``--json``: print JSON (errors too, as ``{"error": {"code", "message"}}``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def identifier(_ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback refusing control and invisible characters in an identifier."""
    values = value if isinstance(value, tuple) else (value,)
    for one in values:
        if isinstance(one, str) and escape(one) != one.replace("\\", "\\\\"):
            raise InvalidInput(
                f"{(param.opts or [param.name])[0]} '{escape(one)}' holds control or "
                "invisible characters",
                code="input.control_characters",
            )
    return value
