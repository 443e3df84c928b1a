"""The registry of error codes (``sso_bridge.codes``) against the source and the docs.

Every code raised in ``src/`` must be registered, every registered code must be raised
somewhere (or say here why not), and ``docs/errors.md`` must list exactly the registry.
The source is read with :mod:`ast`, not with regular expressions; the scanner itself is
tested on small synthetic sources, including the case it exists for: a new
``raise BridgeError("...", code="new.code")`` that nobody registered.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import attrs
import pytest

from sso_bridge import codes
from sso_bridge.codes import CODES, Code, describe
from sso_bridge.oidc import flow

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ERRORS_DOC = ROOT / "docs" / "errors.md"

CODE_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
# the literal start of an f-string that builds a code: a family, a dot, maybe more
CODE_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]*$")

ERROR_ROOT = "sso_bridge.errors.BridgeError"

# Callables that take an error code as a positional argument: qualified name -> position of
# the code among the call's positional arguments. Calls are resolved through imports, local
# definitions and ``self.``, so callables that merely share a name are not taken for these:
# sso_bridge.jsonparse's ``_refuse(reason)`` and the ``_malformed(reason)`` helpers of
# sso_bridge.oidc.idtoken and sso_bridge.esia.cms fix their code with a ``code=`` keyword
# inside (which the keyword scan sees), and ``Linker._refuse(..., error)`` in
# sso_bridge.linking takes an error already built. test_code_takers_are_complete keeps this
# list true both ways.
POSITIONAL_CODE_TAKERS: Mapping[str, int] = {
    "sso_bridge.saml.errors.refuse": 0,  # refuse(code, message)
    "mock_idp.saml.errors.refused": 1,  # refused(exc, code)
    "mock_idp.provider.Provider.authorize.refuse": 1,  # refuse(message, code)
    "mock_idp.provider.Provider._end": 2,  # self._end(txn, message, code)
}

# Codes built with an f-string: (module, literal prefix) -> every value it can produce.
FSTRING_CODES: Mapping[tuple[str, str], frozenset[str]] = {
    # sso_bridge.oidc.flow: f"oidc.{error}" for an IdP error in _KNOWN_ERRORS, else the
    # AuthorizationError default (see test_fstring_codes_follow_their_source)
    ("sso_bridge.oidc.flow", "oidc."): frozenset(
        {
            "oidc.access_denied",
            "oidc.consent_required",
            "oidc.invalid_request",
            "oidc.invalid_scope",
            "oidc.login_required",
        }
    ),
}

# Registered codes that nothing in src/ raises as a literal, and why each is kept.
ESIA_TABLE = (
    "an ESIA error number's code, listed in sso_bridge.esia.errors_table and raised by the "
    "relying party's token and callback error paths through that table"
)

NOT_RAISED_LITERALLY: Mapping[str, str] = {
    "esia.error": "EsiaError's default; every raise in sso_bridge.esia names a code",
    "esia.access_denied": ESIA_TABLE,
    "esia.account_not_confirmed": ESIA_TABLE,
    "esia.certificate_not_registered": ESIA_TABLE,
    "esia.client_auth_failed": ESIA_TABLE,
    "esia.client_not_authorized": ESIA_TABLE,
    "esia.client_secret_wrong": ESIA_TABLE,
    "esia.code_refused": ESIA_TABLE,
    "esia.grant_unsupported": ESIA_TABLE,
    "esia.idp_failed": ESIA_TABLE,
    "esia.idp_unavailable": ESIA_TABLE,
    "esia.org_scope_refused": ESIA_TABLE,
    "esia.permission_missing": ESIA_TABLE,
    "esia.pkce_refused": ESIA_TABLE,
    "esia.redirect_uri_refused": ESIA_TABLE,
    "esia.request_invalid": ESIA_TABLE,
    "esia.request_time_wrong": ESIA_TABLE,
    "esia.scope_refused": ESIA_TABLE,
    "esia.second_factor_unavailable": ESIA_TABLE,
    "saml.invalid": "SamlError's default; sso_bridge.saml.errors.refuse always gives a code",
    "auth.error": "AuthError's default; every raise in sso_bridge.mfa names its code or "
    "uses a subclass",
    "mfa.error": "MfaError's default; every raise in sso_bridge.mfa names its code or uses a "
    "subclass",
    "web.error": "WebError's default; sso_bridge.web raises it through named helpers",
    "link.error": "LinkError's default; LinkError is the family's base, raised through "
    "its subclasses",
    "link.refused": "LinkRefused's default; every LinkRefused in src/ names its rule",
    "oidc.error": "OidcError's default; every OidcError in src/ names a code",
    "oidc.authorization_error": "AuthorizationError's default: sso_bridge.oidc.flow passes "
    "code=None for an IdP error outside _KNOWN_ERRORS",
    "oidc.invalid_id_token": "IdTokenError's default; every IdTokenError names its check",
    "saml.crypto_failed": "SamlCryptoError's default; every raise in "
    "sso_bridge.integrations.pysaml2 names a code",
}

# Code-shaped strings of a registered family that are not error codes.
NOT_ERROR_CODES: Mapping[str, str] = {
    "identity.name_missing": "a warning of a match decision (sso_bridge.matching.decide), "
    "never raised",
}


# -- the scanner ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One place where a code-shaped string occurs."""

    code: str
    where: str  # module:line
    kind: str  # keyword, positional, class, table (a dict value) or literal (anywhere)


@dataclass
class Scan:
    sites: list[Site] = field(default_factory=list)
    # f-strings that build a code: (module, literal prefix, where)
    fstrings: list[tuple[str, str, str]] = field(default_factory=list)
    # error class -> the code it raises when given none (its own or inherited)
    defaults: dict[str, str] = field(default_factory=dict)
    # error classes instantiated somewhere without a code -> the first such place
    bare: dict[str, str] = field(default_factory=dict)
    # every function and class by qualified name -> (its node, whether it is a method)
    definitions: dict[str, tuple[ast.AST, bool]] = field(default_factory=dict)

    def codes(self, *kinds: str) -> set[str]:
        return {site.code for site in self.sites if site.kind in kinds}

    def raised(self) -> set[str]:
        """Codes some error in the scanned source can carry."""
        found = self.codes("keyword", "positional", "table")
        found |= {self.defaults[name] for name in self.bare if name in self.defaults}
        for module, prefix, _ in self.fstrings:
            found |= FSTRING_CODES.get((module, prefix), frozenset())
        return found


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _absolute(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{target}" if target else package


@dataclass(frozen=True)
class _Scope:
    """Where a node sits: the qualified name around it and the names visible there."""

    prefix: str  # the module, class or function that holds the node
    local: Mapping[str, str]  # functions and classes defined in enclosing functions
    cls: str | None  # the class that ``self`` and ``cls`` stand for, if any


@dataclass
class _Module:
    name: str
    tree: ast.Module
    names: dict[str, str]  # module-level name -> qualified name

    def qualify(self, node: ast.expr, scope: _Scope) -> str | None:
        if isinstance(node, ast.Name):
            return scope.local.get(node.id) or self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls") and scope.cls:
                return f"{scope.cls}.{node.attr}"
            base = self.qualify(owner, scope)
            return f"{base}.{node.attr}" if base else None
        return None

    def top(self) -> _Scope:
        return _Scope(self.name, {}, None)


Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _nested(body: list[ast.stmt], prefix: str) -> dict[str, str]:
    return {n.name: f"{prefix}.{n.name}" for n in body if isinstance(n, Definition)}


def _walk(node: ast.AST, scope: _Scope) -> Iterator[tuple[ast.AST, _Scope]]:
    """Every node below ``node`` with its scope."""
    for child in ast.iter_child_nodes(node):
        yield child, scope
        if isinstance(child, ast.ClassDef):
            name = f"{scope.prefix}.{child.name}"
            yield from _walk(child, _Scope(name, scope.local, name))
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{scope.prefix}.{child.name}"
            local = {**scope.local, **_nested(child.body, name)}
            yield from _walk(child, _Scope(name, local, scope.cls))
        else:
            yield from _walk(child, scope)


def _parse(name: str, source: str, is_package: bool, aliases: dict[str, str]) -> _Module:
    tree = ast.parse(source, filename=name)
    names = _nested(tree.body, name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            for alias in node.names:
                local = alias.asname or alias.name
                names[local] = aliases[f"{name}.{local}"] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
    return _Module(name, tree, names)


def _canonical(name: str | None, aliases: Mapping[str, str]) -> str | None:
    seen: set[str] = set()
    while name is not None and name in aliases and name not in seen:
        seen.add(name)
        name = aliases[name]
    return name


def _class_code(node: ast.ClassDef) -> tuple[str, int] | None:
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        value = _string(statement.value)
        if value is not None and any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
            return value, statement.lineno
    return None


def _error_classes(modules: list[_Module], aliases: Mapping[str, str], scan: Scan) -> set[str]:
    """Classes derived from BridgeError; records their class-level codes and defaults."""
    bases: dict[str, list[str]] = {}
    own: dict[str, tuple[str, str]] = {}
    for module in modules:
        for node, scope in _walk(module.tree, module.top()):
            if isinstance(node, ast.ClassDef):
                name = f"{scope.prefix}.{node.name}"
                resolved = (_canonical(module.qualify(b, scope), aliases) for b in node.bases)
                bases[name] = [b for b in resolved if b]
                code = _class_code(node)
                if code is not None:
                    own[name] = (code[0], f"{module.name}:{code[1]}")
    errors = {ERROR_ROOT}
    while True:
        grown = {name for name, parents in bases.items() if errors.intersection(parents)}
        if grown <= errors:
            break
        errors |= grown

    def default(name: str, seen: frozenset[str] = frozenset()) -> str | None:
        if name in own:
            return own[name][0]
        for parent in bases.get(name, []):
            found = None if parent in seen else default(parent, seen | {name})
            if found is not None:
                return found
        return None

    for name in errors:
        if name in own:
            scan.sites.append(Site(own[name][0], own[name][1], "class"))
        inherited = default(name)
        if inherited is not None:
            scan.defaults[name] = inherited
    return errors


@dataclass
class _Context:
    module: _Module
    aliases: Mapping[str, str]
    errors: set[str]
    takers: Mapping[str, int]
    scan: Scan


def _visit_call(node: ast.Call, scope: _Scope, ctx: _Context) -> None:
    where = f"{ctx.module.name}:{node.lineno}"
    has_code = False
    for keyword in node.keywords:
        if keyword.arg is None:  # **kwargs may carry a code
            has_code = True
        elif keyword.arg == "code":
            value = keyword.value
            has_code = not (isinstance(value, ast.Constant) and value.value is None)
            code = _string(value)
            if code is not None:
                ctx.scan.sites.append(Site(code, where, "keyword"))
    target = _canonical(ctx.module.qualify(node.func, scope), ctx.aliases)
    position = ctx.takers.get(target or "")
    if position is not None and len(node.args) > position:
        has_code = True
        code = _string(node.args[position])
        if code is not None:
            ctx.scan.sites.append(Site(code, where, "positional"))
    if target in ctx.errors and not has_code:
        ctx.scan.bare.setdefault(target, where)


def _visit(node: ast.AST, scope: _Scope, ctx: _Context) -> None:
    where = f"{ctx.module.name}:{getattr(node, 'lineno', 0)}"
    if isinstance(node, Definition):
        ctx.scan.definitions[f"{scope.prefix}.{node.name}"] = (node, scope.cls == scope.prefix)
    elif isinstance(node, ast.Call):
        _visit_call(node, scope, ctx)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            code = _string(value)
            if code is not None and CODE_RE.match(code):
                ctx.scan.sites.append(Site(code, where, "table"))
    elif isinstance(node, ast.JoinedStr) and len(node.values) > 1:
        prefix = _string(node.values[0])
        if prefix is not None and CODE_PREFIX_RE.match(prefix):
            ctx.scan.fstrings.append((ctx.module.name, prefix, where))
    elif isinstance(node, ast.Constant):
        code = _string(node)
        if code is not None and CODE_RE.match(code):
            ctx.scan.sites.append(Site(code, where, "literal"))


def scan_sources(
    sources: Mapping[str, str], takers: Mapping[str, int] = POSITIONAL_CODE_TAKERS
) -> Scan:
    """Scan modules given as ``{dotted module name: source}``."""
    scan = Scan()
    aliases: dict[str, str] = {}
    packages = {name.rpartition(".")[0] for name in sources}
    modules = [_parse(name, text, name in packages, aliases) for name, text in sources.items()]
    errors = _error_classes(modules, aliases, scan)
    for module in modules:
        ctx = _Context(module, aliases, errors, takers, scan)
        for node, scope in _walk(module.tree, module.top()):
            _visit(node, scope, ctx)
    return scan


def read_tree(root: Path) -> dict[str, str]:
    """Every .py file under ``root`` as ``{dotted module name: source}``."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        sources[".".join(parts)] = path.read_text(encoding="utf-8")
    return sources


def unregistered(scan: Scan, registry: Mapping[str, object]) -> dict[str, str]:
    """Codes the scan found that ``registry`` lacks -> where one of them occurs.

    A code given as ``code=``, as a code-taking argument or as a class's ``code`` always
    counts; any other code-shaped string counts when its family is a registered one.
    """
    families = {name.partition(".")[0] for name in registry}
    missing: dict[str, str] = {}
    for site in scan.sites:
        if site.kind in ("table", "literal") and (
            site.code.partition(".")[0] not in families or site.code in NOT_ERROR_CODES
        ):
            continue
        if site.code not in registry:
            missing.setdefault(site.code, site.where)
    return missing


@pytest.fixture(scope="module")
def source_scan() -> Scan:
    return scan_sources(read_tree(SRC))


# -- the scanner on synthetic sources ---------------------------------------------------------

SYNTHETIC = '''
from sso_bridge.errors import BridgeError, InvalidInput
from sso_bridge.saml import errors as saml_errors
from sso_bridge.saml.errors import refuse as saml_refuse


class WidgetError(BridgeError):
    """A widget failed."""

    code = "widget.broken"


class WidgetGone(WidgetError):
    pass


class NotAnError:
    code = "widget.not_an_error"


TABLE = {"lost": "widget.from_table"}


def _refuse(reason: str) -> InvalidInput:
    return InvalidInput(reason, code="widget.bad_input")


def refuse(error: str, esia_code: str, message: str) -> BridgeError:
    return BridgeError(f"{esia_code}: {message}", code=error)


def run(kind: str) -> None:
    if kind == "new":
        raise BridgeError("x", code="new.code")
    if kind == "a":
        raise saml_refuse("saml.synthetic_a", "imported under another name")
    if kind == "b":
        raise saml_errors.refuse("saml.synthetic_b", "through the module")
    if kind == "c":
        raise refuse("invalid_request", "ESIA-007002", "a local refuse, not a code-taker")
    if kind == "d":
        raise _refuse("a reason, not a code")
    if kind == "e":
        raise WidgetGone("no code: the inherited default")
    raise InvalidInput("built", code=f"widget.{kind}")
'''


def _line(needle: str) -> int:
    """The line of SYNTHETIC that holds ``needle``."""
    return next(n for n, line in enumerate(SYNTHETIC.splitlines(), 1) if needle in line)


def test_scanner_finds_each_kind_of_code_site() -> None:
    scan = scan_sources({"synthetic": SYNTHETIC})
    assert scan.codes("keyword") == {"new.code", "widget.bad_input"}
    assert scan.codes("positional") == {"saml.synthetic_a", "saml.synthetic_b"}
    assert scan.codes("class") == {"widget.broken"}  # NotAnError is no BridgeError
    assert scan.codes("table") == {"widget.from_table"}
    gone = _line('WidgetGone("no code')
    assert scan.bare == {"synthetic.WidgetGone": f"synthetic:{gone}"}
    assert scan.defaults["synthetic.WidgetGone"] == "widget.broken"
    assert [(m, p) for m, p, _ in scan.fstrings] == [("synthetic", "widget.")]
    everything = {site.code for site in scan.sites}
    assert "invalid_request" not in everything
    assert "a reason, not a code" not in everything


def test_scanner_reports_an_unregistered_code() -> None:
    registry = {"saml.synthetic_a": 1, "saml.synthetic_b": 1, "widget.broken": 1}
    registry |= {"widget.bad_input": 1, "widget.from_table": 1, "widget.not_an_error": 1}
    missing = unregistered(scan_sources({"synthetic": SYNTHETIC}), registry)
    new = _line('code="new.code"')
    assert missing == {"new.code": f"synthetic:{new}"}


def test_scanner_resolves_relative_imports_and_re_exports() -> None:
    sources = {
        "pkg": "from pkg.errors import refuse as refuse\n",
        "pkg.errors": "def refuse(code, message): ...\n",
        "pkg.use": "from . import refuse\nraise refuse('pkg.relative', 'm')\n",
        "pkg.deep.use": "from .. import errors\nraise errors.refuse('pkg.deeper', 'm')\n",
    }
    scan = scan_sources(sources, takers={"pkg.errors.refuse": 0})
    assert scan.codes("positional") == {"pkg.relative", "pkg.deeper"}


def test_scanner_resolves_methods_and_local_helpers() -> None:
    source = """
from sso_bridge.errors import BridgeError


def local(message, code):  # shadowed below, never called
    return BridgeError(message, code=code)


class Machine:
    def _end(self, message, code):
        return BridgeError(message, code=code)

    def run(self, kind):
        def local(message, code):
            return BridgeError(message, code=code)

        if kind:
            raise local("m", "widget.local")
        raise self._end("m", "widget.method")
"""
    takers = {"m.Machine._end": 1, "m.Machine.run.local": 1}
    scan = scan_sources({"m": source}, takers=takers)
    assert scan.codes("positional") == {"widget.local", "widget.method"}
    assert scan.definitions["m.Machine._end"][1] is True  # a method
    assert scan.definitions["m.Machine.run.local"][1] is False


def test_an_unregistered_raise_in_a_copy_of_src_fails(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    errors_py = copy / "sso_bridge" / "errors.py"
    lines = errors_py.read_text(encoding="utf-8").splitlines()
    lines += ["", "", "def _scratch() -> None:", '    raise BridgeError("x", code="new.code")']
    errors_py.write_text("\n".join(lines) + "\n", encoding="utf-8")
    missing = unregistered(scan_sources(read_tree(copy)), CODES)
    assert missing == {"new.code": f"sso_bridge.errors:{len(lines)}"}


# -- (a) every code raised in src/ is registered ---------------------------------------------


def test_every_code_in_src_is_registered(source_scan: Scan) -> None:
    missing = unregistered(source_scan, CODES)
    assert not missing, "register in sso_bridge/codes.py and docs/errors.md: " + ", ".join(
        f"{code} ({where})" for code, where in sorted(missing.items())
    )


def test_the_scan_sees_every_kind_of_site(source_scan: Scan) -> None:
    # guards the scanner against silently finding nothing after a refactoring
    assert {"saml.invalid_id", "saml.too_large"} <= source_scan.codes("positional")
    assert {"oidc.malformed_token", "input.bad_json"} <= source_scan.codes("keyword")
    assert {"link.conflict", "saml.bad_request"} <= source_scan.codes("class")
    assert "oidc.client_auth_failed" in source_scan.codes("table")
    assert "sso_bridge.errors.ImportRejected" in source_scan.bare


def _positional_parameters(node: ast.AST, is_method: bool) -> list[str]:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    names = [a.arg for a in node.args.posonlyargs + node.args.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    return names[1:] if is_method and not static else names


def _forwards_code(node: ast.AST) -> bool:
    """Whether the body passes a parameter ``code`` on as ``code=code``."""
    return any(
        isinstance(n, ast.keyword)
        and n.arg == "code"
        and isinstance(n.value, ast.Name)
        and n.value.id == "code"
        for n in ast.walk(node)
    )


def test_code_takers_are_complete(source_scan: Scan) -> None:
    # a function (or a class's __init__) that takes ``code`` positionally and passes it on
    # into an error is a code-taker; the list must name exactly these, at their position
    found = {}
    for name, (node, is_method) in source_scan.definitions.items():
        parameters = _positional_parameters(node, is_method)
        if "code" in parameters and _forwards_code(node):
            found[name.removesuffix(".__init__")] = parameters.index("code")
    assert found == dict(POSITIONAL_CODE_TAKERS)


def test_fstring_codes_are_declared_and_registered(source_scan: Scan) -> None:
    for module, prefix, where in source_scan.fstrings:
        assert (module, prefix) in FSTRING_CODES, (
            f"{where} builds a code from f'{prefix}...': list what it can produce in "
            "FSTRING_CODES and register each"
        )
    for values in FSTRING_CODES.values():
        assert values <= CODES.keys(), sorted(values - CODES.keys())


def test_fstring_codes_follow_their_source() -> None:
    expected = FSTRING_CODES["sso_bridge.oidc.flow", "oidc."]
    assert {f"oidc.{error}" for error in flow._KNOWN_ERRORS} == expected


def test_the_mock_idp_answers_esia_codes_with_the_registered_status() -> None:
    # the mock IdP keeps the OAuth error, ESIA number and status of each esia.* code
    from mock_idp.provider import ESIA_ERRORS  # noqa: PLC0415 - only this test needs it

    differ = {c: (k.status, CODES[c].status) for c, k in ESIA_ERRORS.items() if c in CODES}
    assert not {c: s for c, s in differ.items() if s[0] != s[1]}


# -- (b) docs/errors.md lists exactly the registry -----------------------------------------

HEADING_RE = re.compile(r"^## `([a-z0-9_]+)\.\*`")
ROW_RE = re.compile(r"^\| `([^`]+)` \| (\d{3}) \| (.+) \|$")


def _doc_rows() -> Iterator[tuple[str | None, str, int, str]]:
    family = None
    for line in ERRORS_DOC.read_text(encoding="utf-8").splitlines():
        heading = HEADING_RE.match(line)
        if heading:
            family = heading.group(1)
        row = ROW_RE.match(line)
        if row:
            yield family, row.group(1), int(row.group(2)), row.group(3)


def test_docs_list_every_code_once_with_its_status_and_meaning() -> None:
    rows = list(_doc_rows())
    listed = [code for _, code, _, _ in rows]
    assert len(listed) == len(set(listed)), "a code is listed twice in docs/errors.md"
    assert set(listed) == set(CODES), (
        f"missing: {sorted(set(CODES) - set(listed))}; "
        f"not registered: {sorted(set(listed) - set(CODES))}"
    )
    for family, code, status, meaning in rows:
        assert family == code.partition(".")[0], f"{code} is under the heading of {family}"
        assert (status, meaning) == (CODES[code].status, CODES[code].meaning), code


def test_docs_mention_no_unregistered_code() -> None:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    quoted = {token for token in re.findall(r"`([^`\s]+)`", text) if CODE_RE.match(token)}
    modules = {token for token in quoted if token.startswith("sso_bridge.")}
    assert quoted - modules <= CODES.keys(), sorted(quoted - modules - CODES.keys())


# -- (c) the form of the registry --------------------------------------------------------------


@pytest.mark.parametrize("entry", CODES.values(), ids=list(CODES))
def test_entry_form(entry: Code) -> None:
    assert CODES[entry.name] is entry
    assert CODE_RE.match(entry.name)
    assert type(entry.status) is int
    assert 400 <= entry.status <= 599
    assert HTTPStatus(entry.status)
    meaning = entry.meaning
    assert meaning == meaning.strip()
    assert meaning
    assert "\n" not in meaning
    assert "|" not in meaning  # it goes into a Markdown table
    assert meaning[0].isupper()
    assert meaning.endswith(".")
    assert len(meaning) <= 100


def test_families_are_contiguous() -> None:
    families = [name.partition(".")[0] for name in CODES]
    runs = [f for i, f in enumerate(families) if i == 0 or families[i - 1] != f]
    assert len(runs) == len(set(runs)), "a family is split; keep its codes together"


def test_describe_and_read_only() -> None:
    assert describe("saml.invalid_id") is CODES["saml.invalid_id"]
    assert describe("oidc.http_error").status == 503
    with pytest.raises(KeyError):
        describe("no.such_code")
    with pytest.raises(TypeError):
        CODES["new.code"] = Code("new.code", 400, "New.")  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CODES["saml.invalid_id"].status = 500  # type: ignore[misc]
    assert set(codes.__all__) == {"CODES", "Code", "describe"}


# -- (d) every registered code is raised somewhere --------------------------------------------


def test_no_dead_entries(source_scan: Scan) -> None:
    dead = set(CODES) - source_scan.raised() - NOT_RAISED_LITERALLY.keys()
    assert not dead, f"registered but raised nowhere in src/: {sorted(dead)}"


def test_exemptions_are_still_needed(source_scan: Scan) -> None:
    assert NOT_RAISED_LITERALLY.keys() <= CODES.keys()
    stale = NOT_RAISED_LITERALLY.keys() & source_scan.raised()
    assert not stale, f"raised now; drop them from NOT_RAISED_LITERALLY: {sorted(stale)}"
    assert not NOT_ERROR_CODES.keys() & CODES.keys()
