"""The stored form of a session: exact round trips, and garbage read as no session."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.clock import NOW
from sso_bridge.sessions import Session, session_from_bytes, session_to_bytes

SID = "ab" * 32


def make(**kw: object) -> Session:
    fields: dict[str, object] = {
        "session_id": SID,
        "account_id": "acc-1",
        "issuer": "https://esia.example/",
        "subject": "1000123456",
        "accounts": ("acc-1", "acc-2"),
        "ip": "2001:db8::1",
        "user_agent": "Mozilla/5.0",
        "created_at": NOW + timedelta(microseconds=123456),
        "last_seen_at": NOW + timedelta(seconds=5, microseconds=999999),
        "expires_at": NOW + timedelta(hours=8),
        "idle_expires_at": NOW + timedelta(minutes=30, microseconds=1),
        "second_factor": True,
        "method": "federated",
    }
    fields.update(kw)
    return Session(**fields)  # type: ignore[arg-type]


def test_round_trip_is_exact_to_the_microsecond() -> None:
    session = make()
    assert session_from_bytes(SID, session_to_bytes(session)) == session


def test_round_trip_of_a_local_login_with_cyrillic_text() -> None:
    session = make(issuer=None, subject=None, method="local", account_id="учитель-7")
    data = session_to_bytes(session)
    assert data.isascii()
    assert session_from_bytes(SID, data) == session


def test_stored_form_is_compact_and_holds_no_id() -> None:
    data = session_to_bytes(make())
    assert b" " not in data.replace(b"Mozilla/5.0", b"")
    assert SID.encode() not in data


def _row() -> list[object]:
    return list(json.loads(session_to_bytes(make())))


def _replaced(index: int, value: object) -> bytes:
    row = _row()
    row[index] = value
    return json.dumps(row).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"{}",
        b"[]",
        b"[1]",
        b"[" * 100_000,
        json.dumps(_row()[:-1]).encode(),
        json.dumps([*_row(), 1]).encode(),
        _replaced(0, 2),
        _replaced(1, 7),
        _replaced(2, ["x"]),
        _replaced(4, "acc-1"),
        _replaced(4, ["acc-1", 2]),
        _replaced(5, None),
        _replaced(7, 1.5),
        _replaced(8, "2026-01-01T00:00:00Z"),
        _replaced(9, True),
        _replaced(10, 10**30),
        _replaced(11, 1),
        _replaced(12, "magic"),
        _replaced(12, ["local"]),
        b'[1,"a",null,null,[],"1.2.3.4","",NaN,0,0,0,false,"local"]',
        session_to_bytes(make()) + b"x",
        b"[" + b" " * 20_000 + b"]",
    ],
)
def test_garbage_is_no_session(data: bytes) -> None:
    assert session_from_bytes(SID, data) is None


@given(st.binary(max_size=300))
def test_any_bytes_give_a_session_or_none(data: bytes) -> None:
    assert session_from_bytes(SID, data) is None or isinstance(
        session_from_bytes(SID, data), Session
    )


@given(
    st.text(min_size=1),
    st.lists(st.text(), max_size=4),
    st.text(),
    st.integers(min_value=0, max_value=10**9),
)
def test_round_trip_of_any_text(account: str, accounts: list[str], agent: str, micros: int) -> None:
    session = make(
        account_id=account,
        accounts=tuple(accounts),
        user_agent=agent,
        last_seen_at=NOW + timedelta(microseconds=micros),
    )
    assert session_from_bytes(SID, session_to_bytes(session)) == session
