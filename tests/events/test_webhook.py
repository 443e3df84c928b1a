"""The webhook sink: delivery survives a receiver down for a minute, nothing lost, no
duplicate left after dedup by event id, every signature verifies; dead letters."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers.clock import FixedClock
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.events import (
    Delivery,
    EventsConfig,
    InMemoryEventStore,
    RetryPolicy,
    WebhookSink,
    verify_signature,
)
from sso_bridge.events.webhook import sign

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECRET = b"a webhook secret of some length"
SETTLE = timedelta(seconds=2)


def setup(url: str, **retry: Any) -> tuple[Delivery, InMemoryAuditLog, FixedClock]:
    clock = FixedClock(T0)
    audit = InMemoryAuditLog()
    config = EventsConfig(
        sinks=(WebhookSink("hook", url, SECRET, connect_timeout=0.5, read_timeout=0.5),),
        retry=RetryPolicy(**retry),
        settle=SETTLE,
        start="beginning",
    )
    delivery = Delivery(config, audit, InMemoryEventStore(), clock=clock, rng=random.Random(7))  # noqa: S311 - a repeatable jitter
    return delivery, audit, clock


def test_delivery_survives_the_receiver_down_for_a_minute(receiver: Any, make_event: Any) -> None:
    delivery, audit, clock = setup(
        receiver.url, base=timedelta(seconds=1), cap=timedelta(seconds=16)
    )
    ids = [audit.record(make_event(i, clock.now())).event_id for i in range(3)]
    clock.advance(SETTLE)
    assert delivery.run_once().delivered == {"hook": 3}

    # first half minute: 503, and the receiver keeps what it answered 503 to (duplicates)
    receiver.answer, receiver.keep_when_failing = 503, True
    tries_while_down = 0
    for second in range(60):
        if second == 30:  # second half minute: nothing listens on the port
            receiver.down()
        if second % 5 == 0:
            ids.append(audit.record(make_event(100 + second, clock.now())).event_id)
        before = len(receiver.received)
        result = delivery.run_once()
        tries_while_down += "hook" in result.failed
        assert not result.delivered and len(receiver.received) - before <= 1
        clock.advance(timedelta(seconds=1))
    state = delivery.store.sink_state("hook")
    assert state is not None and state.attempts >= 3 and state.failing_id == ids[3]
    assert 3 <= tries_while_down < 20  # backed off: far fewer tries than passes

    receiver.answer, receiver.keep_when_failing = 200, False
    receiver.up()
    for _ in range(40):
        clock.advance(timedelta(seconds=1))
        delivery.run_once()
    received = receiver.received
    by_id: dict[str, dict[str, Any]] = {}
    for headers, body in received:
        assert verify_signature(SECRET, headers, body, clock.now(), skew=timedelta(minutes=5))
        data = json.loads(body)
        assert data["event_id"] == headers["Sso-Bridge-Event-Id"]
        by_id.setdefault(data["event_id"], data)
    expected = {f"audit-{i}" for i in ids}
    assert set(by_id) == expected  # none lost
    assert len(received) > len(expected)  # some came twice, and dedup took them out
    assert [by_id[f"audit-{i}"]["fields"]["record_id"] for i in ids] == ids


def test_a_signature_checks_the_body_the_time_and_the_secret() -> None:
    body = b'{"event_id":"audit-1"}'
    now = int(T0.timestamp())
    headers = {"Sso-Bridge-Timestamp": str(now), "Sso-Bridge-Signature": sign(SECRET, now, body)}
    assert verify_signature(SECRET, headers, body, T0)
    assert not verify_signature(SECRET, headers, body + b" ", T0)
    assert not verify_signature(b"another secret of some length", headers, body, T0)
    assert not verify_signature(SECRET, headers, body, T0 + timedelta(minutes=6))  # a replay
    assert not verify_signature(SECRET, {**headers, "Sso-Bridge-Timestamp": "x"}, body, T0)


def test_a_refusal_for_good_is_dead_lettered_at_once_and_can_be_retried(
    receiver: Any, make_event: Any
) -> None:
    delivery, audit, clock = setup(receiver.url)
    for i in range(3):
        audit.record(make_event(i, clock.now()))
    receiver.answer_for["audit-2"] = 400
    clock.advance(SETTLE)
    result = delivery.run_once()
    assert result.delivered == {"hook": 2} and result.dead_lettered == {"hook": 1}
    state = delivery.store.sink_state("hook")
    assert state is not None and state.cursor == 3 and state.failing_id is None
    [letter] = delivery.store.dead_letters()
    assert (letter.event_id, letter.last_status, letter.attempts) == ("audit-2", 400, 1)
    assert letter.reason.startswith("events.refused")
    assert json.loads(letter.body)["event_id"] == "audit-2"

    del receiver.answer_for["audit-2"]
    delivery.run_once()
    assert delivery.store.dead_letters()  # not sent again until an operator asks
    assert delivery.store.mark_retry([letter.letter_id or 0]) == 1
    delivery.run_once()
    assert not delivery.store.dead_letters()
    assert [h["Sso-Bridge-Event-Id"] for h, _ in receiver.received][-1] == "audit-2"


def test_408_and_429_are_retried_and_an_event_is_dead_lettered_after_its_max_age(
    receiver: Any, make_event: Any
) -> None:
    delivery, audit, clock = setup(receiver.url, max_age=timedelta(hours=24))
    audit.record(make_event(1, clock.now()))
    audit.record(make_event(2, clock.now()))
    receiver.answer_for["audit-1"] = 429
    clock.advance(SETTLE)
    assert delivery.run_once().failed == {"hook": "http 429"}
    receiver.answer_for["audit-1"] = 408
    for _ in range(30):
        clock.advance(timedelta(hours=1))
        delivery.run_once()
    [letter] = delivery.store.dead_letters()
    assert letter.event_id == "audit-1" and letter.last_status == 408
    assert "gave up" in letter.reason and letter.attempts >= 3
    assert [h["Sso-Bridge-Event-Id"] for h, _ in receiver.received] == ["audit-2"]


def test_a_new_sink_starts_at_the_end_of_the_trail(receiver: Any, make_event: Any) -> None:
    clock = FixedClock(T0)
    audit = InMemoryAuditLog()
    audit.record(make_event(1, T0))
    config = EventsConfig(sinks=(WebhookSink("hook", receiver.url, SECRET),), settle=SETTLE)
    delivery = Delivery(config, audit, InMemoryEventStore(), clock=clock)
    delivery.run_once()
    audit.record(make_event(2, T0))
    clock.advance(SETTLE)
    delivery.run_once()
    assert [h["Sso-Bridge-Event-Id"] for h, _ in receiver.received] == ["audit-2"]


def test_a_record_newer_than_the_settle_delay_waits(receiver: Any, make_event: Any) -> None:
    delivery, audit, clock = setup(receiver.url)
    audit.record(make_event(1, clock.now()))
    assert delivery.run_once().delivered == {}
    clock.advance(SETTLE)
    assert delivery.run_once().delivered == {"hook": 1}
