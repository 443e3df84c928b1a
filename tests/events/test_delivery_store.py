"""The field policy, the cursor across a restart (SQLite file and PostgreSQL), the lease
between two workers, the event store's dead letters and their erasure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.accounts import KEY
from helpers.clock import FixedClock
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.errors import StoreError
from sso_bridge.events import (
    PERSONAL_FIELDS,
    DeadLetter,
    Delivery,
    Event,
    EventsConfig,
    EventsError,
    InMemoryEventStore,
    JsonLinesSink,
    WebhookSink,
    event_json,
    event_of_record,
    events_config_from_env,
)
from sso_bridge.events.webhook import DELIVERED, Outcome
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_events import SqlEventStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Recorder:
    """A channel that keeps what it is sent (shared by several workers)."""

    def __init__(self, sent: list[str], personal: frozenset[str] = frozenset()) -> None:
        self.sent = sent
        self.personal = personal

    def send(self, event: Event, body: bytes, now: datetime) -> Outcome:
        self.sent.append(event.event_id)
        return DELIVERED

    def resend(self, event_id: str, kind: str, body: bytes, now: datetime) -> Outcome:
        self.sent.append(event_id)
        return DELIVERED

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def config(**kwargs: Any) -> EventsConfig:
    sink = JsonLinesSink("rec", "/nonexistent/unused.jsonl")
    return EventsConfig(sinks=(sink,), settle=timedelta(0), start="beginning", **kwargs)


def test_a_sink_gets_no_personal_value_unless_configured(make_event: Any) -> None:
    record = InMemoryAuditLog().record(make_event(7))
    event = event_of_record(record)
    plain = json.dumps(event_json(event))
    assert "secret" not in plain and "10.9.8.7" not in plain
    assert set(event_json(event)["fields"]) == {"action", "method", "issuer", "code", "record_id"}
    chosen = event_json(event, {"account_id", "ip"})["fields"]
    assert (chosen["account_id"], chosen["ip"]) == ("account-secret-7", "10.9.8.7")
    assert not (set(chosen) & PERSONAL_FIELDS) - {"account_id", "ip"}


def test_a_sink_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(EventsError) as caught:
        WebhookSink("h", "https://example.org/", "x" * 20, personal={"snils"})
    assert caught.value.code == "events.bad_fields"
    with pytest.raises(EventsError) as caught:
        WebhookSink("h", "ftp://example.org/", "x" * 20)
    assert caught.value.code == "events.bad_config"


def test_the_environment_configures_the_sinks() -> None:
    env = {
        "SSO_BRIDGE_WEBHOOK_URL": "https://siem.example/hook",
        "SSO_BRIDGE_WEBHOOK_SECRET": "s" * 32,
        "SSO_BRIDGE_SYSLOG": "tcp://127.0.0.1:6514",
        "SSO_BRIDGE_EVENTS_PERSONAL": "account_id",
    }
    made = events_config_from_env(env)
    assert [s.name for s in made.sinks] == ["webhook", "syslog"]
    assert all(s.personal == {"account_id"} for s in made.sinks)
    assert not events_config_from_env({}).enabled


@pytest.fixture
def sql_store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url, KEY)
    yield s
    s.close()


def test_the_cursor_survives_a_restart(db_url: str, sql_store: SqlStore, make_event: Any) -> None:
    sent: list[str] = []
    clock = FixedClock(T0)
    for i in range(3):
        sql_store.record(make_event(i, T0))
    first = Delivery(
        config(),
        sql_store,
        SqlEventStore(sql_store.engine),
        clock=clock,
        channels={"rec": Recorder(sent)},
    )
    first.run_once()
    first.stop()
    for i in range(3, 5):
        sql_store.record(make_event(i, T0))
    again = open_store(db_url, KEY)  # another process, as far as the store can tell
    try:
        second = Delivery(
            config(),
            again,
            SqlEventStore(again.engine),
            clock=clock,
            channels={"rec": Recorder(sent)},
        )
        second.run_once()
        second.stop()
        state = second.store.sink_state("rec")
    finally:
        again.close()
    assert sent == [f"audit-{i}" for i in _ids(sql_store)]
    assert state is not None and state.cursor == _ids(sql_store)[-1] and state.lease_owner is None


def _ids(store: SqlStore) -> list[int]:
    return [e.event_id or 0 for e in store.events()]


def test_two_workers_with_a_lease_do_not_both_deliver(sql_store: SqlStore, make_event: Any) -> None:
    sent: list[str] = []
    clock = FixedClock(T0)
    events = SqlEventStore(sql_store.engine)
    one, two = (
        Delivery(
            config(), sql_store, events, clock=clock, owner=name, channels={"rec": Recorder(sent)}
        )
        for name in ("one", "two")
    )
    for i in range(4):
        sql_store.record(make_event(i, T0))
    assert one.run_once().delivered == {"rec": 4}
    sql_store.record(make_event(9, T0))
    assert two.run_once().skipped == ["rec"]  # one holds the lease
    assert one.run_once().delivered == {"rec": 1}
    clock.advance(timedelta(seconds=61))  # one stopped renewing: its lease lapsed
    sql_store.record(make_event(10, T0))
    assert two.run_once().delivered == {"rec": 1}
    assert one.run_once().skipped == ["rec"]
    assert len(sent) == len(set(sent)) == 6


@pytest.mark.parametrize("kind", ["memory", "sql"])
def test_dead_letters_are_kept_listed_and_erased(kind: str, sqlite_store: SqlStore) -> None:
    store: Any = InMemoryEventStore() if kind == "memory" else SqlEventStore(sqlite_store.engine)
    body = json.dumps(
        {"event_id": "audit-1", "fields": {"account_id": "acc-1", "subject": "s-1", "code": "c"}}
    )
    letters = [
        store.add_dead_letter(
            DeadLetter(
                "hook",
                f"audit-{i}",
                "audit.login",
                body,
                "events.refused: http 400",
                1,
                T0,
                400,
                account_id=f"acc-{i}",
                issuer="esia",
                subject=f"s-{i}",
            )
        )
        for i in (1, 2)
    ]
    assert [d.letter_id for d in store.dead_letters()] == [d.letter_id for d in letters]
    assert store.erase_account("acc-1") == 1
    assert store.erase_subject("esia", "s-2") == 1
    assert store.erase_account("acc-1") == 0
    for d in store.dead_letters():
        assert "acc-1" not in d.body and "s-1" not in d.body and d.account_id is None
        assert json.loads(d.body)["fields"] == {"code": "c"}
    assert store.mark_retry([letters[0].letter_id, 999]) == 1
    assert [d.event_id for d in store.dead_letters(retry_only=True)] == ["audit-1"]
    assert store.drop_dead_letters([letters[1].letter_id]) == 1
    assert [d.event_id for d in store.dead_letters()] == ["audit-1"]


def test_every_public_method_of_the_sql_event_store_is_guarded() -> None:
    public = [n for n in vars(SqlEventStore) if not n.startswith("_") and n != "close"]
    assert "claim" in public and "erase_account" in public
    assert all(getattr(getattr(SqlEventStore, n), "__sso_guarded__", False) for n in public)


def test_a_database_that_does_not_answer_is_store_unavailable(tmp_path: Any) -> None:
    import sqlalchemy as sa  # noqa: PLC0415 - only this test

    engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(StoreError) as caught:
        SqlEventStore(engine).sink_state("hook")
    assert caught.value.code == "store.unavailable"
