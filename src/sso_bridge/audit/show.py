"""Showing the audit trail to people: escaped text, one line per event, times to filter by.

Every field of an event that came from outside (actor, IP, user agent, subject, detail,
...) may hold control characters. Printed raw, a newline would forge a line of its own
and an escape sequence would rewrite the terminal, so they are printed as ``\\n``,
``\\x1b``, ``\\u202e`` escapes (and a backslash as ``\\\\``, so that escapes stay
unambiguous).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sso_bridge.audit.errors import AuditInputError
from sso_bridge.audit.trail import RootAnchor, TrailReport
from sso_bridge.model import AuditEvent

__all__ = ["escape", "event_line", "json_safe", "parse_anchor", "parse_since", "report_json"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# control, format (bidi overrides, zero-width), line and paragraph separators, surrogates
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")


def _code_point(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def escape(text: str) -> str:
    """``text`` with control and invisible format characters written as escapes."""

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        if ch in _NAMED:
            return _NAMED[ch]
        return _code_point(ch) if unicodedata.category(ch) in _HIDDEN else ch

    return _NOT_PLAIN.sub(one, text.replace("\\", "\\\\"))


def json_safe(text: str) -> str:
    """JSON text with the control and format characters ``json.dumps`` leaves raw escaped.

    (DEL, C1 controls, bidi overrides and the like; ``json.dumps`` only escapes those
    below U+0020.) The result is the same JSON value.
    """

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        if ch == "\n" or unicodedata.category(ch) not in _HIDDEN:
            return ch
        cp = ord(ch)
        if cp < 0x10000:
            return f"\\u{cp:04x}"
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"

    return _NOT_PLAIN.sub(one, text)


def _field(value: Any) -> str:
    if value is None or value == "":
        return "-"
    # a value outside its enum, or a time that is not one, only comes from an edited row
    return escape(value if type(value) is str else str(value))


def event_line(event: AuditEvent) -> str:
    """One tab-separated line: id, time, action, method, actor, IP, issuer and subject,
    account, then ``code: detail`` and the user agent when there are any."""
    at = event.at
    when = at.isoformat(timespec="seconds") if isinstance(at, datetime) else _field(at)
    parts = [
        f"#{event.event_id}",
        when,
        _field(event.action),
        _field(event.method),
        _field(event.actor),
        _field(event.ip),
        f"{_field(event.issuer)} {_field(event.subject)}",
        _field(event.account_id),
    ]
    if event.code or event.detail:
        parts.append(f"{_field(event.code)}: {escape(event.detail or '')}")
    if event.user_agent:
        parts.append(f"ua: {escape(event.user_agent)}")
    return "\t".join(parts)


def parse_since(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when it has no offset).

    Raises ``audit.bad_since`` for anything else.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise AuditInputError(
            f"--since {shown!r} is not an ISO date or date-time "
            "(2026-01-02, 2026-01-02T03:04, 2026-01-02T03:04:05+03:00)",
            code="audit.bad_since",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


_ANCHOR = re.compile(r"([1-9][0-9]{0,17})(?::([0-9a-f]{64}))?")


def parse_anchor(text: str) -> RootAnchor:
    """A root kept from an earlier verification: ``ID`` or ``ID:HASH`` (64 hex digits).

    Raises ``audit.bad_anchor`` for anything else.
    """
    found = _ANCHOR.fullmatch(text.strip().lower())
    if found is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise AuditInputError(
            f"--since {escape(shown)!r} is not a root: give its id, or id:hash as "
            "`audit verify` printed it (17:3fa4…)",
            code="audit.bad_anchor",
        )
    return RootAnchor(int(found.group(1)), found.group(2))


def report_json(report: TrailReport) -> dict[str, Any]:
    """The verification result as plain JSON, with the newest root to keep elsewhere."""
    return {
        "ok": report.ok,
        "records": report.checked,
        "chains": len(report.chains),
        "roots": report.roots_checked,
        "root_id": report.root_id,
        "root_hash": report.root_hash,
        "head_id": report.head_id,
        "head": report.head,
        "first_bad": report.first_bad,
        "reason": report.reason,
        "problems": [
            {"chain": p.chain, "record": p.record, "root": p.root, "reason": p.reason}
            for p in report.problems
        ],
    }
