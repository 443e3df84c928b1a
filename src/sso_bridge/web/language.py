"""Which language a page speaks: the person's choice (a cookie set by the switch on every
page), else the browser's ``Accept-Language``, else :attr:`WebConfig.language`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sso_bridge.web.http import LANGUAGES

__all__ = [
    "LANGUAGE_COOKIE",
    "MAX_ACCEPT_LANGUAGE_BYTES",
    "MAX_ACCEPT_LANGUAGE_ENTRIES",
    "accepted_languages",
    "page_language",
    "preferred_language",
]

LANGUAGE_COOKIE: Final = "sso_lang"
"""The cookie holding the language the person picked (its name without a secure prefix)."""

MAX_ACCEPT_LANGUAGE_BYTES: Final = 512
"""A longer ``Accept-Language`` is not read at all (the default language applies)."""
MAX_ACCEPT_LANGUAGE_ENTRIES: Final = 16
"""Only this many entries of ``Accept-Language`` are read; the rest are ignored."""


def _weight(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            return weight if 0.0 <= weight <= 1.0 else 0.0
    return 1.0


def accepted_languages(header: str | None) -> list[tuple[str, float]]:
    """The entries of an ``Accept-Language`` header as ``(tag, q)``, most wanted first
    (ties in the header's order); tags in lower case. Malformed entries are skipped; an
    over-long header gives nothing."""
    if not header or len(header) > MAX_ACCEPT_LANGUAGE_BYTES:
        return []
    found: list[tuple[str, float]] = []
    for entry in header.split(",", MAX_ACCEPT_LANGUAGE_ENTRIES)[:MAX_ACCEPT_LANGUAGE_ENTRIES]:
        tag, *parameters = entry.split(";")
        tag = tag.strip().lower()
        if not tag or len(tag) > 35 or not all(c.isalnum() or c in "-*" for c in tag):
            continue
        found.append((tag, _weight(parameters)))
    return sorted(found, key=lambda item: -item[1])


def preferred_language(header: str | None, default: str) -> str:
    """The first of :data:`LANGUAGES` that ``header`` accepts (``en-GB`` accepts ``en``;
    ``*`` and no match give ``default``)."""
    for tag, weight in accepted_languages(header):
        if weight <= 0.0:
            continue
        if tag == "*":
            return default
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return default


def page_language(
    cookies: Mapping[str, str], accept_language: str | None, default: str, cookie: str
) -> str:
    """The language of a page: the ``cookie`` the switch sets when it names a known
    language, else the browser's preference, else ``default``."""
    chosen = cookies.get(cookie)
    if chosen in LANGUAGES:
        return str(chosen)
    return preferred_language(accept_language, default)
