"""The import family's errors: a file that cannot be read, or rows that are refused."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from sso_bridge.errors import Code, InvalidInput, declare

__all__ = ["ImportFileError", "ImportRejected", "RowError"]


@attrs.frozen
class RowError:
    """One bad row of an import file."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class ImportFileError(InvalidInput):
    """An import file cannot be read: unreadable, not UTF-8, not CSV, a bad header."""

    family = "import"
    about = (
        "CSV files of local accounts (`sso-bridge accounts import`); nothing is imported "
        "unless every row is good."
    )
    codes = declare(
        Code(
            "import.invalid_rows", 400, "Bad rows (listed above); fix them, nothing was imported."
        ),
        Code("import.bad_header", 400, "The file is empty or its header misnames columns."),
        Code("import.bad_csv", 400, "The file is not readable CSV at the line given."),
        Code("import.bad_encoding", 400, "The file is not UTF-8; save it as UTF-8."),
        Code(
            "import.unreadable", 400, "The file cannot be opened; check its path and permissions."
        ),
    )
    code = "import.bad_csv"


class ImportRejected(ImportFileError):
    """An import file had bad rows, so none of it was imported."""

    code = "import.invalid_rows"

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        n = len(self.errors)
        super().__init__(f"{n} bad row{'s' if n != 1 else ''}; nothing was imported")
