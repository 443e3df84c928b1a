"""Checks that a page speaks one language: its ``<html lang>``, and none of the other
language's texts from the message catalogues (the language switch aside)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.pofile import read_po

from sso_bridge.web.catalogues import LOCALE_DIR
from sso_bridge.web.http import LANGUAGES

PORTAL_LOCALE = Path(__file__).resolve().parents[2] / "examples" / "school_portal" / "locale"
CATALOGUE_DIRS = {"sso_bridge": LOCALE_DIR, "school_portal": PORTAL_LOCALE}
_SWITCH = re.compile(r'<a class="language"[^>]*>[^<]*</a>')


def messages(domain: str, language: str) -> dict[str, str]:
    """The id → text of one catalogue, read from its ``.po`` file."""
    path = CATALOGUE_DIRS[domain] / language / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as source:
        return {str(m.id): str(m.string) for m in read_po(source) if m.id}


def _phrases(language: str, other: str) -> set[str]:
    """Texts of ``other`` that could not be mistaken for ones of ``language``: each
    fixed part of at least 4 letters of a text that differs between the two."""
    found: set[str] = set()
    for domain in CATALOGUE_DIRS:
        mine, theirs = messages(domain, language), messages(domain, other)
        for key, text in theirs.items():
            # a language's own name is only on the switch (and "Русский" is a school
            # subject); a provider's name is the host's, which other hosts may not translate
            if text == mine.get(key) or key == "language_name" or key.startswith("provider."):
                continue
            for piece in re.split(r"\{\w+\}", text):
                part = piece.strip(" .,:;()«»“”—")
                if len(part) >= 4 and part not in mine.get(key, ""):
                    found.add(part)
    return found


def visible_text(page: str) -> str:
    """The page's text and attribute values, the language switch left out."""
    page = _SWITCH.sub("", page)
    attributes = " ".join(re.findall(r'(?:aria-label|title|data-label)="([^"]*)"', page))
    body = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return html.unescape(body + " " + attributes)


def other_language_texts(page: str, language: str) -> list[str]:
    """The other languages' texts that ``page`` shows."""
    text = visible_text(page)
    others: Iterable[str] = (o for o in LANGUAGES if o != language)
    return sorted(
        phrase
        for other in others
        for phrase in _phrases(language, other)
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text)
    )


def assert_one_language(page: str, language: str) -> None:
    """``page`` is in ``language`` only."""
    assert f'<html lang="{language}">' in page
    assert 'class="other"' not in page
    stripped = _SWITCH.sub("", page)
    assert not re.findall(rf'lang="(?!{language}")', stripped), "a part in another language"
    shown = other_language_texts(page, language)
    assert shown == [], f"texts of another language on a {language} page: {shown}"
