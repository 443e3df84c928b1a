"""docs/cli.md covers every command of `sso-bridge`, and only commands that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from sso_bridge.cli import main
from sso_bridge.codes import CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def test_every_command_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [c for c in commands(main) if f"sso-bridge {c}" not in text and f"`{c}" not in text]
    assert not missing, f"docs/cli.md does not show: {missing}"


def test_the_docs_name_no_command_that_does_not_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    known = set(commands(main))
    groups = {c.split()[0] for c in known if " " in c}
    shown = set()
    for line in text.splitlines():
        for found in re.finditer(r"sso-bridge ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", line):
            words = found.group(1).split()
            name = " ".join(words[:2]) if words[0] in groups and len(words) > 1 else words[0]
            shown.add(name)
    unknown = sorted(n for n in shown if n not in known and n not in groups)
    assert not unknown, f"docs/cli.md shows commands that do not exist: {unknown}"


# Where the codes the command line can emit are raised: its own modules and what it calls.
EMITTERS = [
    "cli/main.py",
    "cli/accounts.py",
    "cli/links.py",
    "cli/audit.py",
    "cli/match.py",
    "cli/credentials.py",
    "cli/output.py",
    "importing/*.py",
    "keyfile.py",
    "linking/*.py",
    "serialize.py",
    "jsonparse.py",
    "store/open.py",
    "store/sql.py",
    "store/sql_engine.py",
    "store/sql_migrate.py",
    "store/sql_store.py",
    "store/sql_directory.py",
    "store/sql_links.py",
    "store/sql_audit.py",
    "store/sql_audit_log.py",
    "audit/show.py",
    "errors.py",
]
SRC = Path(__file__).resolve().parents[2] / "src" / "sso_bridge"


def emitted_codes() -> set[str]:
    found: set[str] = set()
    for pattern in EMITTERS:
        paths = sorted(SRC.glob(pattern))
        assert paths, f"no module matches {pattern}"
        source = "".join(p.read_text(encoding="utf-8") for p in paths)
        found.update(re.findall(r"""code\s*=\s*["']([a-z_]+\.[a-z_]+)["']""", source))
        found.update(re.findall(r"""["']([a-z_]+\.[a-z_]+)["']: \d{3}""", source))
    return found


def test_every_code_the_cli_emits_is_documented_and_known() -> None:
    text = DOC.read_text(encoding="utf-8")
    codes = emitted_codes()
    assert {"store.not_found", "input.control_characters", "config.bad_db_url"} <= codes
    undocumented = sorted(
        c for c in codes if f"`{c}`" not in text and f"`{c.split('.')[0]}.*`" not in text
    )
    assert not undocumented, f"docs/cli.md does not name: {undocumented}"
    unknown = sorted(c for c in codes if c not in CODES)
    assert not unknown, f"neither registered nor given a status: {unknown}"
