"""The machine imports only the standard library, attrs, the model and the errors.

Every module of ``sso_bridge.broker.machine`` is parsed with ``ast`` (nothing is
imported); every import counts, at module level, under ``TYPE_CHECKING`` or inside a
function.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.machine.outcome import refusal
from sso_bridge.errors import BridgeError
from sso_bridge.mfa.errors import AuthError

MACHINE = Path(__file__).resolve().parents[2] / "src" / "sso_bridge" / "broker" / "machine"
PACKAGE = "sso_bridge.broker.machine"
ALLOWED = ("attrs", "sso_bridge.model", "sso_bridge.errors", PACKAGE)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import of the module at ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # relative to the machine package, which every module here is directly in
                parts = PACKAGE.split(".")
                base = parts[: len(parts) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node.lineno, node.module or ""


def _allowed(module: str) -> bool:
    if module.partition(".")[0] in sys.stdlib_module_names:
        return True
    return any(module == name or module.startswith(name + ".") for name in ALLOWED)


MODULES = sorted(MACHINE.glob("*.py"))


def test_the_machine_has_modules() -> None:
    assert {path.name for path in MODULES} >= {"__init__.py", "states.py", "table.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_the_machine_imports_only_the_standard_library_attrs_and_the_model(path: Path) -> None:
    wrong = [f"line {line}: {module}" for line, module in _imports(path) if not _allowed(module)]
    assert not wrong, f"{path.name} imports beyond the machine's allowance: {wrong}"


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("datetime", True),
        ("collections.abc", True),
        ("attrs", True),
        ("sso_bridge.model", True),
        ("sso_bridge.errors", True),
        ("sso_bridge.broker.machine.states", True),
        ("sso_bridge.broker.machine", True),
        ("sso_bridge.broker.config", False),
        ("sso_bridge.broker.errors", False),
        ("sso_bridge.mfa", False),
        ("sso_bridge.modelling", False),
        ("sso_bridge.broker.machinery", False),
        ("attrsx", False),
        ("sqlalchemy", False),
    ],
)
def test_the_allowance(module: str, allowed: bool) -> None:
    assert _allowed(module) is allowed


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("broker.out_of_order", BrokerError),
        ("broker.not_an_employee", BrokerError),
        ("auth.account_blocked", AuthError),
    ],
)
def test_refusals_keep_the_classes_hosts_catch(code: str, cls: type[BridgeError]) -> None:
    # the machine builds its errors from the code's family, without importing the classes
    error = refusal(code, "a message")
    assert type(error) is cls
    assert (error.code, error.message) == (code, "a message")
