"""The message catalogues of the pages: Babel ``.po`` files, one per language, compiled
when first used.

The library's own are ``sso_bridge/web/locale/<lang>/LC_MESSAGES/sso_bridge.po``; a host
adds its own with :attr:`~sso_bridge.web.http.WebConfig.locale_dirs` (every ``*.po``
under ``<dir>/<lang>/LC_MESSAGES/``), whose messages take precedence. A message id is the
key a template passes to ``t()``.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from sso_bridge.errors import ConfigError

__all__ = ["DOMAIN", "LOCALE_DIR", "catalogue", "translations"]

DOMAIN: Final = "sso_bridge"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
"""Where the library's catalogues are: ``<lang>/LC_MESSAGES/sso_bridge.po``."""


def _read(path: Path, language: str) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=language, domain=path.stem)


def _compiled(catalogue: Catalog) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(buffer, domain=catalogue.domain)


def _files(directory: str, language: str) -> list[Path]:
    return sorted((Path(directory) / language / "LC_MESSAGES").glob("*.po"))


@functools.cache
def catalogue(language: str) -> Catalog:
    """The library's own catalogue of ``language``."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        raise ConfigError(f"no catalogue for language {language!r}", code="config.invalid")
    return _read(path, language)


class _Missing(NullTranslations):
    """The last fallback: a message id that no catalogue has is a mistake, not a text."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        raise KeyError(msgid1)


@functools.cache
def translations(language: str, extra_dirs: tuple[str, ...] = ()) -> Translations:
    """The compiled messages of ``language``: the library's, then (winning) those of
    ``extra_dirs`` in order. An id none of them has raises :class:`KeyError`."""
    found = _compiled(catalogue(language))
    for directory in extra_dirs:
        for path in _files(directory, language):
            found.merge(_compiled(_read(path, language)))
    found.add_fallback(_Missing())
    return found
