"""The JSON lines sink: each event appended to a file as one line (docs/events.md).

The file is opened for appending (created with mode 0600: it may hold personal values)
and each line is one ``write``, so lines of several processes do not interleave on a
local file system. ``fsync`` decides when the data is forced to disk.
"""

from __future__ import annotations

import os

from sso_bridge.events.config import JsonLinesSink
from sso_bridge.events.webhook import DELIVERED, Outcome

__all__ = ["JsonLinesSender"]


class JsonLinesSender:
    """Appends events to one :class:`~sso_bridge.events.config.JsonLinesSink`'s file."""

    def __init__(self, sink: JsonLinesSink) -> None:
        self.sink = sink
        self._fd: int | None = None
        self._dirty = False

    def send(self, body: bytes) -> Outcome:
        """Append one line; never raises."""
        try:
            if self._fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(self.sink.path, flags, 0o600)
            os.write(self._fd, body.replace(b"\n", b"\\n") + b"\n")
            self._dirty = True
            if self.sink.fsync == "always":
                self.flush()
        except OSError as exc:
            self.close()
            return Outcome(ok=False, reason=f"file: {exc.strerror or type(exc).__name__}")
        return DELIVERED

    def flush(self) -> None:
        """Force what was written to disk, unless the policy is ``never``."""
        if self._fd is not None and self._dirty and self.sink.fsync != "never":
            os.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None
