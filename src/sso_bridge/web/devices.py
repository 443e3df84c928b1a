"""What the sessions list shows of a session's browser: its name and system as a person
knows them ("Chrome 120, Windows 10"), read from the User-Agent header with ua-parser (the
uap-core rules), not the raw header."""

from __future__ import annotations

import functools
from typing import Final

from ua_parser import parse

__all__ = ["MAX_USER_AGENT", "device_name"]

MAX_USER_AGENT: Final = 512
"""Characters of a User-Agent read at most (sessions keep no more than this)."""

_UNNAMED: Final = frozenset({"", "Other", "Generic Smartphone", "Generic Feature Phone"})


def _named(family: str | None, major: str | None = None) -> str | None:
    if family is None or family in _UNNAMED:
        return None
    return f"{family} {major}" if major else family


@functools.lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str | None:
    """The browser, its system and, for a phone or tablet, the device (``"Mobile Safari
    17, iOS 17, iPhone"``); None when none of them is recognised."""
    text = user_agent[:MAX_USER_AGENT]
    if not text.strip():
        return None
    found = parse(text)
    browser = found.user_agent
    system = found.os
    device = found.device
    parts = [
        _named(browser.family, browser.major) if browser else None,
        _named(system.family, system.major) if system else None,
    ]
    if device is not None and device.family not in _UNNAMED and device.family != "Mac":
        parts.append(device.family)
    named = [part for part in parts if part]
    return ", ".join(dict.fromkeys(named)) or None
