"""Importing files of accounts: one transaction for all of them, each file checked in
blocks (in worker processes when it is large) and merged in this process."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import BinaryIO

from sso_bridge.importing import csvfile
from sso_bridge.importing.check import Job, checked_blocks
from sso_bridge.importing.errors import ImportFileError
from sso_bridge.importing.merge import ImportReport, Merger
from sso_bridge.importing.ports import BulkImport, ImportTarget, ProgressCallback
from sso_bridge.matching.keys import date_number

__all__ = ["MAX_WORKERS", "PARALLEL_MIN_BYTES", "import_accounts_csv", "import_accounts_files"]

PARALLEL_MIN_BYTES = 4 << 20
"""Files from this size on are checked in worker processes."""
MAX_WORKERS = 8
"""By default a large file is checked by one worker process per core, up to this many."""


def import_accounts_csv(
    directory: ImportTarget,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import one CSV file of accounts (UTF-8, BOM allowed) in one transaction.

    Raises :class:`~sso_bridge.errors.ImportRejected`, having written nothing, when a row
    is bad and ``skip_invalid`` is false. ``progress`` is called with the number of bytes
    of the file done since its last call. ``workers`` sets the number of checking
    processes (0: check in this process); by default large files use one per core,
    up to :data:`MAX_WORKERS`.
    """
    reports = import_accounts_files(
        directory, [path], skip_invalid=skip_invalid, progress=progress, workers=workers
    )
    return reports[0]


def import_accounts_files(
    directory: ImportTarget,
    paths: Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> list[ImportReport]:
    """Import several CSV files in ONE transaction: a file that is refused (a bad row
    without ``skip_invalid``, or a file that is unusable as a whole) writes nothing of
    any file. Otherwise as :func:`import_accounts_csv`, one report per file."""
    with ExitStack() as stack:
        handles: list[tuple[str, BinaryIO]] = []
        for path in paths:
            try:
                handles.append((str(path), stack.enter_context(Path(path).open("rb"))))
            except OSError as exc:
                raise ImportFileError(f"{path}: {exc.strerror}", code="import.unreadable") from None
        sizes = [os.fstat(h.fileno()).st_size for _, h in handles]
        with directory.bulk_import(expected_rows=sum(sizes) // 80) as writer:
            return [
                _import_one(directory, writer, name, handle, size, skip_invalid, progress, workers)
                for (name, handle), size in zip(handles, sizes, strict=True)
            ]


def _import_one(
    directory: ImportTarget,
    writer: BulkImport,
    source: str,
    handle: BinaryIO,
    size: int,
    skip_invalid: bool,
    progress: ProgressCallback | None,
    workers: int | None,
) -> ImportReport:
    header, rest, header_lines = csvfile.read_header(handle, source)
    positions = csvfile.column_positions(header, source)
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 0
    today = date_number(date.today())
    index = directory.blind_index

    def jobs() -> Iterator[Job]:
        line = header_lines + 1
        for data in csvfile.blocks(handle, rest, csvfile.BLOCK_BYTES):
            yield Job(source, line, data, positions, index, today)
            line += data.count(b"\n")

    if progress is not None:
        progress(handle.tell() - len(rest))
    merger = Merger(source, writer, skip_invalid)
    for block in checked_blocks(jobs(), workers):
        merger.add(block)
        if progress is not None:
            progress(block.size)
    return merger.finish()
