"""Merging checked blocks: the rules that span the whole file (an account id given twice,
an organisation named two ways, an organisation that is never named), and the writing of
the good rows (in this process)."""

from __future__ import annotations

import marshal

import attrs

from sso_bridge.importing.check import Checked
from sso_bridge.importing.errors import ImportRejected, RowError
from sso_bridge.importing.ports import (
    AccountRow,
    BulkImport,
    add_organisations,
    has_organisation,
)
from sso_bridge.model import Organisation

__all__ = ["ImportReport", "Merger"]


@attrs.frozen
class ImportReport:
    source: str
    imported: int
    skipped: tuple[RowError, ...]
    warnings: tuple[RowError, ...]


class Merger:
    """Applies the file-wide rules to checked blocks and writes the good rows."""

    def __init__(self, source: str, writer: BulkImport, skip_invalid: bool) -> None:
        self.source = source
        self.writer = writer
        self.skip_invalid = skip_invalid
        self.seen: dict[str, int] = {}
        self.org_names: dict[str, tuple[str, int]] = {}
        self.pending: dict[str, list[tuple[int, AccountRow]]] = {}
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.imported = 0

    def add(self, block: Checked) -> None:
        self.errors.extend(block.errors)
        self.warnings.extend(block.warnings)
        renamed = self._add_org_names(block)
        rows: list[AccountRow] = marshal.loads(block.rows)  # noqa: S302 - made by check_block
        lines = block.lines
        ids = [r[0] for r in rows]
        repeated = self.seen.keys() & set(ids) if self.seen else set()
        if repeated or renamed:
            rows, lines = self._drop_bad(rows, block, repeated, renamed)
            self.seen.update((r[0], line) for r, line in zip(rows, lines, strict=True))
        else:
            self.seen.update(zip(ids, lines, strict=True))
        unknown = {org for org in {r[1] for r in rows} if not self._org_known(org)}
        if unknown:
            kept: list[AccountRow] = []
            for row, line in zip(rows, lines, strict=True):
                if row[1] in unknown:
                    self.pending.setdefault(row[1], []).append((line, row))
                else:
                    kept.append(row)
            rows = kept
        self._write(rows)

    def _add_org_names(self, block: Checked) -> dict[str, str]:
        """Store the organisations this block names first; return those it names otherwise."""
        new: list[Organisation] = []
        renamed: dict[str, str] = {}
        for org_id, (name, line) in block.org_names.items():
            first_name, first_line = self.org_names.setdefault(org_id, (name, line))
            if first_name != name:
                renamed[org_id] = (
                    f"organisation {org_id!r} is named {first_name!r} on line {first_line}"
                )
            elif first_line == line:
                new.append(Organisation(org_id, name))
        add_organisations(self.writer, new)
        for org in new:
            self._write([row for _, row in self.pending.pop(org.org_id, [])])
        return renamed

    def _drop_bad(
        self,
        block_rows: list[AccountRow],
        block: Checked,
        repeated: set[str],
        renamed: dict[str, str],
    ) -> tuple[list[AccountRow], list[int]]:
        rows: list[AccountRow] = []
        lines: list[int] = []
        for row, line, named in zip(block_rows, block.lines, block.named, strict=True):
            reasons = []
            if row[0] in repeated:
                reasons.append(f"account_id {row[0]!r} repeats line {self.seen[row[0]]}")
            if named and row[1] in renamed:
                reasons.append(renamed[row[1]])
            if reasons:
                self.errors.append(RowError(self.source, line, "; ".join(reasons)))
            else:
                rows.append(row)
                lines.append(line)
        return rows, lines

    def _org_known(self, org_id: str) -> bool:
        return org_id in self.org_names or has_organisation(self.writer, org_id)

    def _write(self, rows: list[AccountRow]) -> None:
        # After the first bad row nothing more is written: the import will be rolled back.
        if rows and (self.skip_invalid or not self.errors):
            self.writer.add_rows(rows)
            self.imported += len(rows)

    def finish(self) -> ImportReport:
        for org_id, waiting in sorted(self.pending.items()):
            self.errors.append(
                RowError(
                    self.source,
                    min(line for line, _ in waiting),
                    f"organisation {org_id!r} is new and has no org_name; its rows are bad",
                )
            )
        errors = tuple(sorted(self.errors, key=lambda e: e.line))
        if errors and not self.skip_invalid:
            raise ImportRejected(errors)
        return ImportReport(self.source, self.imported, errors, tuple(self.warnings))
