"""The import layers of sso_bridge (docs/design.md, "Layers"), read from the source.

Every module is parsed with ``ast`` (nothing is imported) and each of its imports of
``sso_bridge`` is checked: a part may import itself and the parts of lower layers, never
a part of its own layer or of a higher one. Imports under ``TYPE_CHECKING`` and imports
inside functions count too. The package root is the public facade: it re-exports names
lazily and imports nothing at load time (see the last tests).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "sso_bridge"

# Lowest first. A part is a top-level module or package of sso_bridge.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors", ("errors",)),
    (
        "values and shared ports",
        (
            "token_errors",
            "clock",
            "ephemeral",
            "model",
            "keytypes",
            "keysize",
            "base64url",
            "jsonparse",
            "address",
            "inline",
        ),
    ),
    ("metrics, logs and readiness probes", ("observe",)),
    ("core, each with its ports", ("matching", "audit", "mfa", "sessions")),
    ("rules over the core", ("linking", "importing", "serialize", "keyfile")),
    ("the provider plug-in interface", ("idp",)),
    ("the optional logout capabilities of providers", ("logout",)),
    ("protocols", ("oidc", "saml")),
    ("ESIA, an OpenID Connect provider with extensions", ("esia", "esia_cms")),
    ("the login state machine", ("broker",)),
    ("events out of the broker", ("events",)),
    ("implementations of the ports", ("store", "integrations")),
    ("personal data: export and erasure", ("privacy",)),
    ("adapters", ("web", "cli")),
    ("the registry of every family's codes", ("codes",)),
]

LAYER_OF = {part: i for i, (_name, parts) in enumerate(LAYERS) for part in parts}

ROOT_NAMES = frozenset({"__version__"})
"""Names that any module may import from the package root (it imports nothing to give them)."""

# Imports that still run up the layers, each with why it is still there. Remove an entry
# when its import is gone.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    # ESIA moved out of oidc/ onto it; the old paths stay one release as deprecation shims
    # that re-export from sso_bridge.esia.
    ("oidc/esia_access.py", "sso_bridge.esia.access_token"): "shim of a moved module",
    ("oidc/esia_keys.py", "sso_bridge.esia.keys"): "shim of a moved module",
    ("esia_cms.py", "sso_bridge.esia.cms"): "shim of a moved module",
    # Names that moved up and resolve at their old place for one release, on first use.
    ("oidc/__init__.py", "sso_bridge.esia.person_api"): "shim of a moved name",
    ("oidc/config.py", "sso_bridge.esia.config"): "shim of a moved name",
    ("oidc/identity.py", "sso_bridge.esia.person_api"): "shim of a moved name",
    ("oidc/keys.py", "sso_bridge.esia.keys"): "shim of a moved name",
    ("errors.py", "sso_bridge.importing.errors"): "shim of a moved name",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = SRC.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(source: str, module_name: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import of sso_bridge in the module's ``source``."""
    here = module_name.split(".")
    package = here if is_package else here[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sso_bridge":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Call) and _imported_by_name(node):
            # import_module("sso_bridge.x"): an import all the same, made at run time
            yield node.lineno, node.args[0].value  # type: ignore[attr-defined]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != "sso_bridge":
                continue
            for alias in node.names:
                # "from sso_bridge.x import y": y may be a submodule or a name of x
                sub = f"{module}.{alias.name}"
                yield node.lineno, sub if _is_module(sub) else module


def _imported_by_name(node: ast.Call) -> bool:
    """``import_module("sso_bridge...")`` or ``importlib.import_module(...)`` with a literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "import_module" or not node.args:
        return False
    first = node.args[0]
    return (
        isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and first.value.split(".")[0] == "sso_bridge"
    )


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_part_has_a_layer() -> None:
    parts = {_part(_module_name(p)) for p in _sources()}
    unplaced = sorted(p for p in parts if p is not None and p not in LAYER_OF)
    assert not unplaced, f"place these in LAYERS (tests/test_layers.py, docs/design.md): {unplaced}"


def _violations() -> list[str]:
    found: list[str] = []
    for path in _sources():
        rel = path.relative_to(PACKAGE).as_posix()
        name = _module_name(path)
        own = _part(name)
        source = path.read_text(encoding="utf-8")
        for line, module in _imports(source, name, path.name == "__init__.py"):
            target = _part(module)
            if own not in LAYER_OF or target is None or target == own:
                continue  # the root: see test_only_the_version_is_taken_from_the_root
            if target in LAYER_OF and LAYER_OF[target] < LAYER_OF[own]:
                continue
            if (rel, module) in KNOWN_EXCEPTIONS:
                continue
            up = "its own" if LAYER_OF.get(target) == LAYER_OF[own] else "a higher"
            found.append(f"src/sso_bridge/{rel}:{line}: {own} imports {module} ({up} layer)")
    return list(dict.fromkeys(found))


def test_no_import_runs_up_the_layers() -> None:
    found = _violations()
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_only_the_version_is_taken_from_the_root() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "sso_bridge" and not node.level:
                names = {a.name for a in node.names if not _is_module(f"sso_bridge.{a.name}")}
                if names - ROOT_NAMES:
                    rel = path.relative_to(PACKAGE).as_posix()
                    found.append(f"src/sso_bridge/{rel}:{node.lineno}: {sorted(names)}")
    assert not found, "import these from their modules, not the root:\n" + "\n".join(found)


def test_the_checker_sees_an_arrow_up() -> None:
    source = (
        "from sso_bridge.store import sql\n"
        "from ..store.sql import SqlStore\n"
        "from . import decide\n"
        "if TYPE_CHECKING:\n"
        "    import sso_bridge.broker.core\n"
        "importlib.import_module('sso_bridge.web.core')\n"
    )
    found = list(_imports(source, "sso_bridge.matching.engine", is_package=False))
    assert found == [
        (1, "sso_bridge.store.sql"),
        (2, "sso_bridge.store.sql"),
        (3, "sso_bridge.matching.decide"),
        (5, "sso_bridge.broker.core"),
        (6, "sso_bridge.web.core"),
    ]
    assert LAYER_OF["store"] > LAYER_OF["broker"] > LAYER_OF["matching"]


def test_the_root_imports_nothing_at_load_time() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    eager = []
    for node in tree.body:
        if isinstance(node, ast.If):  # if TYPE_CHECKING: for the type checkers only
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sso_bridge"):
            eager.append(node.lineno)
        if isinstance(node, ast.Import) and any(
            a.name.startswith("sso_bridge") for a in node.names
        ):
            eager.append(node.lineno)
    assert not eager, f"src/sso_bridge/__init__.py imports at load time on lines {eager}"


HEAVY = ("sqlalchemy", "psycopg", "redis", "httpx", "lxml")


@pytest.mark.parametrize(
    "statement",
    [
        "import sso_bridge",
        "import sso_bridge.matching",
        "import sso_bridge.matching.normalize",
        "import sso_bridge.linking",
        "import sso_bridge.importing",
        "import sso_bridge.mfa",
        "import sso_bridge.sessions",
        "import sso_bridge.audit",
    ],
)
def test_the_core_loads_no_database_or_http_library(statement: str) -> None:
    probe = (
        f"import sys\n{statement}\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", f"{statement} loads {out.strip()}"


def test_the_root_still_offers_its_names() -> None:
    probe = (
        "import sys, sso_bridge\n"
        "from sso_bridge import open_store, Linker, Matcher, BridgeError, __version__\n"
        "assert all(hasattr(sso_bridge, n) for n in sso_bridge.__all__)\n"
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"  # open_store was asked for, so the SQL store is loaded
