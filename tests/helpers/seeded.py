"""The demo region for tests, seeded once per process and kind and copied for each test.

Seeding hashes every account's password with the portal's own parameters (RFC 9106,
64 MiB, about 0.1 s an account), several seconds a region; a copy of the finished SQLite
file is the same database for a test's purposes. Tests of seeding itself call
``seed_region`` directly."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["seeded_region"]

_SUFFIXES = ("", "-wal", "-shm", "-journal")
_templates: dict[str, Path] = {}
_lock = threading.Lock()
_folder: list[Path] = []


def _template(issuer: str) -> Path:
    from school_portal.seed import seed_region  # noqa: PLC0415 - the example, when used

    with _lock:
        found = _templates.get(issuer)
        if found is not None:
            return found
        if not _folder:
            _folder.append(Path(tempfile.mkdtemp(prefix="sso-seeded-")))
            atexit.register(shutil.rmtree, _folder[0], True)
        made = _folder[0] / f"region-{len(_templates)}.db"
        seed_region(made, datetime.now(UTC), issuer=issuer)
        _templates[issuer] = made
        return made


def seeded_region(db_path: Path, *, issuer: str | None = None) -> tuple[object, ...]:
    """``seed_region(db_path, now, issuer=issuer)`` as a copy of a region seeded earlier in
    this process: the database, its key file beside it, and the seeded people."""
    from school_portal.seed import DEMO_ISSUER, PEOPLE, write_key_file  # noqa: PLC0415

    template = _template(issuer or DEMO_ISSUER)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in _SUFFIXES:
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{db_path}{suffix}")
    write_key_file(db_path)
    return tuple(PEOPLE)
