"""Redaction: SNILS, passport numbers and one-time codes never reach a stored detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers.clock import NOW
from sso_bridge.audit import MASK, prepare, redact
from sso_bridge.audit.redact import LIMITS
from sso_bridge.errors import InvalidInput
from sso_bridge.model import AuditAction, AuditEvent


@pytest.mark.parametrize(
    "number",
    [
        "123-456-789 01",
        "123-456-789-01",
        "123 456 789 01",
        "12345678901",
        "4506 123456",
        "45 06 123456",
        "4506 № 123456",
        "4506123456",
        "1234",
        "123456",
        "12345678",
        "123456789012345",
    ],
)
def test_numbers_are_masked(number: str) -> None:
    out = redact(f"code was {number}, try again")
    assert out == f"code was {MASK}, try again"


def test_numbers_next_to_letters_and_punctuation_are_masked() -> None:
    assert redact("otp=482913;snils:11223344595") == f"otp={MASK};snils:{MASK}"
    assert redact("(482913)") == f"({MASK})"


def test_ordinary_text_is_kept() -> None:
    text = "account 's17-t-001' is blocked; 3 tries left; ip 10.1.2.3"
    assert redact(text) == text
    assert redact("Школа № 17") == "Школа № 17"


def test_redaction_is_idempotent() -> None:
    once = redact("SNILS 123-456-789 01 and code 1234")
    assert redact(once) == once
    assert not any(ch.isdigit() for ch in once)


def event(**kw: object) -> AuditEvent:
    fields: dict[str, object] = {"action": AuditAction.LOGIN_REFUSED, "at": NOW, "actor": "web"}
    fields.update(kw)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_prepare_redacts_detail_only() -> None:
    stored = prepare(event(subject="1000000101", detail="wrong code 123456"))
    assert stored.subject == "1000000101"  # an ESIA subject is a number: kept
    assert stored.detail == f"wrong code {MASK}"


def test_prepare_redacts_before_cutting() -> None:
    # a SNILS that straddles the cut is masked whole, not cut into an unmasked remainder
    detail = "x" * (LIMITS["detail"] - 8) + " 123-456-789 01"
    stored = prepare(event(detail=detail))
    assert stored.detail is not None
    assert len(stored.detail) <= LIMITS["detail"]
    assert "123" not in stored.detail
    assert "456" not in stored.detail


def test_prepare_cuts_long_text_and_replaces_nul() -> None:
    stored = prepare(event(user_agent="A" * 5000, actor="web\x00bot", ip="\ud800"))
    assert stored.user_agent is not None
    assert len(stored.user_agent) == LIMITS["user_agent"]
    assert stored.user_agent.endswith("…")
    assert stored.actor == "web\ufffdbot"
    assert stored.ip == "?"


def test_prepare_puts_time_in_utc_and_clears_ids() -> None:
    moscow = timezone(timedelta(hours=3))
    stored = prepare(event(at=datetime(2026, 1, 2, 6, 0, tzinfo=moscow), event_id=5))
    assert stored.at == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert stored.at.tzinfo is UTC
    assert stored.event_id is None


def test_prepare_refuses_a_naive_time() -> None:
    with pytest.raises(InvalidInput) as exc:
        prepare(event(at=datetime(2026, 1, 2)))
    assert exc.value.code == "audit.invalid_event"
