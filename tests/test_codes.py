"""The registry of error codes (``sso_bridge.codes``) against the classes, the source and
the docs.

The codes are declared by the error classes, so most of what used to be checked here by
hand is now structural (``sso_bridge.errors._declare``): a code outside its class's
family, a code declared twice, a default code a class may not carry. What is left: every
code-shaped string in ``src/`` is registered, every raise with a literal code names a
class that may carry it, every registered code is used somewhere, nothing branches on a
code string, and ``docs/errors.md`` is generated from the registry.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from pathlib import Path

import attrs
import pytest

from sso_bridge import codes, errors
from sso_bridge.codes import CODES, Code, describe
from sso_bridge.errors import BridgeError, ConfigError, InvalidInput
from sso_bridge.oidc import flow

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ERRORS_DOC = ROOT / "docs" / "errors.md"

CODE_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
CODE_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]*$")
MODULES = frozenset(codes.FAMILY_MODULES)

# Codes built with an f-string: (module, literal prefix) -> every value it can produce.
FSTRING_CODES: Mapping[tuple[str, str], frozenset[str]] = {
    # f"oidc.{error}" for an IdP error in _KNOWN_ERRORS, else AuthorizationError's default
    ("sso_bridge.oidc.flow", "oidc."): frozenset(f"oidc.{error}" for error in flow._KNOWN_ERRORS),
}

# Code-shaped strings of a registered family that are not error codes.
NOT_ERROR_CODES: Mapping[str, str] = {
    "identity.name_missing": "a warning of a match decision (sso_bridge.matching.decide)",
    "esia.organisations": "the name of what a provider is asked for (sso_bridge.esia.roles)",
    "audit.recorded": "the log event of an audit record (sso_bridge.observe.logs)",
    "audit.unrecorded": "the log event of an audit record not written (sso_bridge.observe.logs)",
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_declaration(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Name) and node.func.id == "Code"


@attrs.define
class Scan:
    literals: dict[str, str] = attrs.Factory(dict)  # code-shaped string -> first place
    declared: set[str] = attrs.Factory(set)  # first arguments of Code(...)
    fstrings: list[tuple[str, str, str]] = attrs.Factory(list)  # module, prefix, place
    raises: list[tuple[str, str, str]] = attrs.Factory(list)  # class name, code, place
    branches: list[str] = attrs.Factory(list)  # comparisons of a .code attribute


def _code_attribute(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "code"


def scan_source() -> Scan:
    scan = Scan()
    for module, tree in _modules():
        declarations: set[int] = set()
        for node in ast.walk(tree):
            where = f"{module}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                if _is_declaration(node) and isinstance(node.args[0], ast.Constant):
                    scan.declared.add(node.args[0].value)
                    declarations.add(id(node.args[0]))
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else None
                for keyword in node.keywords:
                    value = keyword.value
                    if keyword.arg == "code" and isinstance(value, ast.Constant) and name:
                        scan.raises.append((name, str(value.value), where))
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                # sso_bridge.errors checks a code against its class: the one place
                if module != "sso_bridge.errors" and any(map(_code_attribute, sides)):
                    scan.branches.append(where)
            elif isinstance(node, ast.JoinedStr) and len(node.values) > 1:
                first = node.values[0]
                prefix = first.value if isinstance(first, ast.Constant) else None
                if isinstance(prefix, str) and CODE_PREFIX_RE.match(prefix):
                    scan.fstrings.append((module, prefix, where))
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Constant) else None
            if id(node) in declarations or value in MODULES:
                continue
            if isinstance(value, str) and CODE_RE.match(value):
                scan.literals.setdefault(value, f"{module}:{node.lineno}")
    return scan


@pytest.fixture(scope="module")
def source_scan() -> Scan:
    return scan_source()


def _error_classes() -> dict[str, set[type[BridgeError]]]:
    assert CODES  # imports every module that declares codes
    found: dict[str, set[type[BridgeError]]] = {}
    todo: list[type[BridgeError]] = [BridgeError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, set()).add(cls)
        todo.extend(cls.__subclasses__())
    return found


# -- the classes ------------------------------------------------------------------------------


def test_every_family_has_one_class_and_its_codes_carry_its_name() -> None:
    for code in CODES.values():
        base = errors.family_class(code.family)
        assert base.family == code.family
        assert code.name in errors.declared_by(code.name).allowed
        assert issubclass(errors.declared_by(code.name), base)


def test_an_error_cannot_carry_a_code_of_another_family() -> None:
    with pytest.raises(ValueError, match=r"saml\.bad_config"):
        ConfigError("x", code="saml.bad_config")
    with pytest.raises(ValueError, match=r"esia\.weak_key"):
        BridgeError("x", code="esia.weak_key")
    with pytest.raises(ValueError, match=r"new\.code"):
        InvalidInput("x", code="new.code")
    assert ConfigError("x").http_status == 500


def test_a_class_cannot_declare_outside_its_family() -> None:
    with pytest.raises(TypeError, match="outside config"):

        class _Stray(ConfigError):
            codes = (Code("saml.stray", 400, "Stray."),)

    with pytest.raises(TypeError, match="declared twice"):

        class _Twice(ConfigError):
            codes = (Code("config.invalid", 500, "Twice."),)


def test_every_literal_raise_names_a_class_that_may_carry_its_code(source_scan: Scan) -> None:
    classes = _error_classes()
    wrong = [
        f"{name}({code!r}) at {where}"
        for name, code, where in source_scan.raises
        if name in classes and all(code not in cls.allowed for cls in classes[name])
    ]
    assert not wrong, wrong


# -- the source -------------------------------------------------------------------------------


def test_every_code_in_src_is_registered(source_scan: Scan) -> None:
    families = {code.family for code in CODES.values()}
    missing = {
        code: where
        for code, where in source_scan.literals.items()
        if code.partition(".")[0] in families and code not in CODES
    }
    missing = {c: w for c, w in missing.items() if c not in NOT_ERROR_CODES}
    assert not missing, f"declare them in their family's class: {missing}"
    assert not NOT_ERROR_CODES.keys() & CODES.keys()


def test_every_registered_code_is_used(source_scan: Scan) -> None:
    used = set(source_scan.literals)
    for values in FSTRING_CODES.values():
        used |= values
    # a code counts as used when it occurs outside its declaration: raised, a class's
    # default, or an entry of a table such as sso_bridge.esia.errors_table
    unused = set(CODES) - used
    assert source_scan.declared == set(CODES)
    assert not unused, f"declared but used nowhere in src/: {sorted(unused)}"


def test_fstring_codes_are_declared_and_registered(source_scan: Scan) -> None:
    for module, prefix, where in source_scan.fstrings:
        assert (module, prefix) in FSTRING_CODES, f"{where}: list what f'{prefix}...' gives"
    for values in FSTRING_CODES.values():
        assert values <= CODES.keys(), sorted(values - CODES.keys())


def test_nothing_branches_on_a_code_string(source_scan: Scan) -> None:
    assert not source_scan.branches, "catch a class instead: " + ", ".join(source_scan.branches)


def test_the_mock_idp_answers_esia_codes_with_the_registered_status() -> None:
    from mock_idp.errors import ESIA_ERRORS, EsiaError  # noqa: PLC0415 - only this test

    assert ESIA_ERRORS.keys() <= EsiaError.allowed
    assert all(kind.status == CODES[code].status for code, kind in ESIA_ERRORS.items())


# -- docs/errors.md ---------------------------------------------------------------------------


def test_the_doc_is_generated_from_the_registry() -> None:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    assert codes.render_doc(text) == text, "run: python -m sso_bridge.codes --write " + str(
        ERRORS_DOC.relative_to(ROOT)
    )
    assert codes.main(["--check", str(ERRORS_DOC)]) == 0


def test_docs_mention_no_unregistered_code() -> None:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    quoted = {token for token in re.findall(r"`([^`\s]+)`", text) if CODE_RE.match(token)}
    modules = {token for token in quoted if token.startswith(("sso_bridge.", "mock_idp."))}
    assert quoted - modules <= CODES.keys(), sorted(quoted - modules - CODES.keys())


# -- the form of the registry -----------------------------------------------------------------


@pytest.mark.parametrize("entry", CODES.values(), ids=list(CODES))
def test_entry_form(entry: Code) -> None:
    assert CODES[entry.name] is entry
    assert CODE_RE.match(entry.name)
    assert type(entry.status) is int
    assert 400 <= entry.status <= 599
    assert HTTPStatus(entry.status)
    meaning = entry.meaning
    assert meaning
    assert meaning == meaning.strip()
    assert "\n" not in meaning
    assert "|" not in meaning  # it goes into a Markdown table
    assert meaning[0].isupper()
    assert meaning.endswith(".")
    assert len(meaning) <= 100


def test_describe_and_read_only() -> None:
    assert describe("saml.invalid_id") is CODES["saml.invalid_id"]
    assert describe("oidc.http_error").status == 503
    with pytest.raises(KeyError):
        describe("no.such_code")
    with pytest.raises(TypeError):
        CODES["new.code"] = Code("new.code", 400, "New.")  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CODES["saml.invalid_id"].status = 500  # type: ignore[misc]
    assert {"CODES", "Code", "describe"} <= set(codes.__all__)
