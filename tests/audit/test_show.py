"""Printing audit events: nothing from outside can forge a line or drive the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers.clock import NOW
from sso_bridge.audit.show import escape, event_line, json_safe, parse_since
from sso_bridge.errors import InvalidInput
from sso_bridge.model import AuditAction, AuditEvent


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x07", "\\x07"),
        ("\x7f\x9b", "\\x7f\\x9b"),
        ("\u202eevil", "\\u202eevil"),
        ("a\u2028b", "a\\u2028b"),
        ("back\\slash", "back\\\\slash"),
        ("Мария Петровна", "Мария Петровна"),
    ],
)
def test_escape(raw: str, shown: str) -> None:
    assert escape(raw) == shown


def test_escapes_cannot_be_forged() -> None:
    # a literal backslash-n in the input is shown differently from a real newline
    assert escape("a\\nb") != escape("a\nb")


def test_event_line_is_one_line_with_fixed_columns() -> None:
    hostile = "x\n2026-01-01T00:00:00\tlogin\t-\tadmin\x1b]0;pwned\x07"
    event = AuditEvent(
        AuditAction.LOGIN_REFUSED,
        NOW,
        hostile,
        subject=hostile,
        ip=hostile,
        code="login.refused",
        detail=hostile,
        user_agent=hostile,
        event_id=3,
    )
    line = event_line(event)
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\x07" not in line
    plain = event_line(AuditEvent(AuditAction.LOGIN_REFUSED, NOW, "a", code="c", user_agent="u"))
    assert line.count("\t") == plain.count("\t")
    assert line.startswith(f"#3\t{NOW.isoformat(timespec='seconds')}\tlogin_refused\t-\tx\\n")


def test_json_safe_keeps_the_value_and_escapes_what_json_leaves_raw() -> None:
    value = {"ua": "a\x9b2J\u202e\U000e0041\x7fМ\n"}
    text = json.dumps(value, ensure_ascii=False, indent=2)
    safe = json_safe(text)
    assert json.loads(safe) == value
    for ch in ("\x9b", "\u202e", "\U000e0041", "\x7f"):
        assert ch not in safe
    assert "М" in safe


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
        ("2026-01-02T03:04", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "2026-01-02T06:04:05+03:00",
            datetime(2026, 1, 2, 6, 4, 5, tzinfo=timezone(timedelta(hours=3))),
        ),
    ],
)
def test_parse_since(text: str, when: datetime) -> None:
    parsed = parse_since(text)
    assert parsed == when
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "2026-01-02\nforged"])
def test_parse_since_refuses_the_rest(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_since(text)
    assert exc.value.code == "audit.bad_since"
    assert "\n" not in exc.value.message
