"""One exception hierarchy for the whole library.

Every error carries a stable machine ``code`` (``"link.conflict"``) that callers, logs and
the CLI can rely on, and a human ``message``. Codes never change meaning once published.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


class BridgeError(Exception):
    """Root of every error sso_bridge raises on purpose."""

    code: str = "bridge.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigError(BridgeError):
    """The library was set up wrongly (missing key, bad database URL, ...)."""

    code = "config.invalid"


class InvalidInput(BridgeError):
    """Data handed to the library does not have the required form."""

    code = "input.invalid"


class StoreError(BridgeError):
    """The storage backend refused or could not serve a request."""

    code = "store.error"


class AccountNotFound(BridgeError):
    code = "account.not_found"


class LinkError(BridgeError):
    """A link could not be made or removed; nothing was changed."""

    code = "link.error"


class LinkConflict(LinkError):
    """The local account already links to another subject of the same issuer."""

    code = "link.conflict"


class LinkNotFound(LinkError):
    code = "link.not_found"


class LinkRefused(LinkError):
    """A linking rule forbids this link (blocked account, SNILS conflict, not a candidate)."""

    code = "link.refused"


@attrs.frozen
class RowError:
    """One bad row of an import file."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class ImportRejected(BridgeError):
    """An import file had bad rows, so none of it was imported."""

    code = "import.invalid_rows"

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        n = len(self.errors)
        super().__init__(f"{n} bad row{'s' if n != 1 else ''}; nothing was imported")
