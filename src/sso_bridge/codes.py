"""The registry of error codes: what each one means and the HTTP status it maps to.

Every :class:`sso_bridge.errors.BridgeError` carries a stable dotted ``code``. Each code
is declared once, with its HTTP status and a one-sentence meaning for the administrator or
integrator who reads it in a log, in the ``codes`` of the error class that raises it
(``SamlError.codes`` holds the ``saml.*`` codes). This module collects them::

    from sso_bridge import codes

    except BridgeError as exc:
        status = codes.describe(exc.code).status  # or exc.http_status

The statuses follow one rule: 400 for a refused message or bad input, 401 for a refused
authentication, 403 for a refusal by policy, 404 for something absent, 409 for a conflict
with stored state, 413 for a message that is too large, 429 for too many attempts, 500
for configuration or server faults, 502 for an unusable answer from the IdP and 503 for a
backend that cannot be reached.

``docs/errors.md`` is generated from the registry: ``python -m sso_bridge.codes --write
docs/errors.md`` rewrites its tables and ``--check`` tells whether they are current.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

from sso_bridge.errors import BridgeError, Code, declared, declared_by, family_class

__all__ = ["CODES", "FAMILY_MODULES", "Code", "describe", "markdown", "render_doc"]

FAMILY_MODULES: Final[tuple[str, ...]] = (
    "sso_bridge.errors",
    "sso_bridge.linking.requests",
    "sso_bridge.importing.errors",
    "sso_bridge.token_errors",
    "sso_bridge.esia.errors",
    "sso_bridge.saml.errors",
    "mock_idp.saml.errors",
    "sso_bridge.mfa.errors",
    "sso_bridge.sessions.errors",
    "sso_bridge.broker.errors",
    "sso_bridge.audit.errors",
    "sso_bridge.events.errors",
    "sso_bridge.web.errors",
    "sso_bridge.web.console.errors",
    "mock_idp.errors",
)
"""The modules that declare error codes; the families are listed in the order of their
base classes in these modules."""


def _families() -> list[type[BridgeError]]:
    """The base class of every family, in the order of :data:`FAMILY_MODULES`."""
    found: list[type[BridgeError]] = []
    for name in FAMILY_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BridgeError)
                and value.__module__ == name
                and "family" in vars(value)
                and value not in found
            ):
                found.append(value)
        if name == "sso_bridge.errors":
            found.insert(0, BridgeError)
    return found


def _collect() -> Mapping[str, Code]:
    everything = declared()
    table: dict[str, Code] = {}
    for base in _families():
        for name, entry in everything.items():
            if entry.family == base.family:
                table[name] = entry
    # an application's own families (examples/school_portal) are its own to document
    return MappingProxyType(table)


class _Registry(Mapping[str, Code]):
    """The codes of every family, collected when first read (the families' modules import
    much of the library, which may import this module)."""

    def __init__(self) -> None:
        self._table: Mapping[str, Code] | None = None

    @property
    def table(self) -> Mapping[str, Code]:
        if self._table is None:
            self._table = _collect()
        return self._table

    def __getitem__(self, code: str) -> Code:
        return self.table[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


CODES: Final[Mapping[str, Code]] = _Registry()
"""Every error code by name, family by family (read-only)."""


def describe(code: str) -> Code:
    """The registry entry of ``code``; ``KeyError`` when the code is not registered."""
    return CODES[code]


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def markdown() -> str:
    """The tables of ``docs/errors.md``: per family, its class, what it covers, its codes."""
    out: list[str] = []
    families: dict[str, list[Code]] = {}
    for entry in CODES.values():
        families.setdefault(entry.family, []).append(entry)
    for family, entries in families.items():
        base = family_class(family)
        out += [f"## `{family}.*`", "", base.about, ""]
        out += [f"Class: `{_class_name(base)}`; catch it to catch the whole family.", ""]
        out += ["| code | HTTP status | meaning | class |", "|---|---|---|---|"]
        for entry in entries:
            cls = declared_by(entry.name).__qualname__
            out.append(f"| `{entry.name}` | {entry.status} | {entry.meaning} | `{cls}` |")
        out.append("")
    return "\n".join(out)


BEGIN: Final = "<!-- the tables below are generated: python -m sso_bridge.codes --write -->"
END: Final = "<!-- end of the generated tables -->"


def render_doc(text: str) -> str:
    """``text`` (``docs/errors.md``) with the part between its markers generated anew."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError("the document lacks the markers of the generated tables")
    return f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sso_bridge.codes``: print the tables, or write or check a document."""
    parser = argparse.ArgumentParser(prog="python -m sso_bridge.codes")
    parser.add_argument("--write", type=Path, metavar="DOC", help="regenerate DOC in place")
    parser.add_argument("--check", type=Path, metavar="DOC", help="fail if DOC is stale")
    args = parser.parse_args(argv)
    if args.write is None and args.check is None:
        sys.stdout.write(markdown())
        return 0
    path: Path = args.write or args.check
    text = path.read_text(encoding="utf-8")
    fresh = render_doc(text)
    if args.check is not None:
        if fresh != text:
            sys.stderr.write(f"{path} is stale; run python -m sso_bridge.codes --write {path}\n")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
