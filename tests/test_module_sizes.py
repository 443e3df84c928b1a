"""The house rule on size: every module of the sources is at most 400 lines and every
function at most 50 (docstring included). Data tables are excepted: the migrations, whose
functions are table definitions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
DATA_TABLES = ("sso_bridge/store/migrations/versions/",)
PACKAGES = ("sso_bridge", "mock_idp")


def _modules(package: str) -> list[Path]:
    return [
        path
        for path in sorted((SRC / package).rglob("*.py"))
        if not str(path.relative_to(SRC)).startswith(DATA_TABLES)
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_400_lines(package: str) -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in _modules(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_over_50_lines(package: str) -> None:
    long = {}
    for path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SRC)}:{node.lineno} {node.name}"] = lines
    assert not long
