"""The shell blocks of the documentation, as a reader would copy them into a terminal.

A block is a fenced block tagged ``sh``. Lines ending in ``\\`` continue on the next one;
``#`` starts a comment. ``make`` targets are picked out: they set up, serve or test the
project itself and are run by their own tests (see :data:`MAKE_TARGETS`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[2]

DOCUMENTS = ("README.md", "docs/quickstart.md", "docs/cli.md")
"""The documents whose shell blocks must work as written."""

MAKE_TARGETS = {
    "venv": "run as written",
    "demo": "served on free ports and stopped again (test_make_demo_serves_the_portal)",
    "demo-cli": "run with its database in a temporary directory",
    "dist": "built and installed into a new venv (tests/docs/test_dist.py)",
    "test": "the suite that runs this test",
    "fuzz": "the long fuzzing profile, 25 to 70 minutes: by hand",
    "bench": "the benchmarks, about half an hour: by hand",
}
"""Every ``make`` target a document may show, and how the tests cover it."""

_FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Command:
    """One command of a shell block (continuation lines joined, comment dropped)."""

    document: str
    line: int
    text: str

    @property
    def make_target(self) -> str | None:
        """The target of a ``make`` command, or None for any other command."""
        words = shlex.split(self.text)
        if not words or words[0] != "make":
            return None
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        return targets[0] if targets else ""


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``#`` comment (a ``#`` inside quotes is kept)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def commands(document: str) -> list[Command]:
    """The commands of every shell block of ``document`` (a path under the root)."""
    text = (ROOT / document).read_text(encoding="utf-8")
    found: list[Command] = []
    for block in _FENCE.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        pending, start = "", first
        for offset, raw in enumerate(block.group(1).splitlines()):
            line = _strip_comment(raw)
            if not pending:
                start = first + offset
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            joined = (pending + line).strip()
            pending = ""
            if joined:
                found.append(Command(document, start, joined))
    return found
