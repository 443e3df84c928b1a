"""Validation keeps decoded sessions and parsed addresses: what it returns still follows the
store, and every check still runs on every request."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import attrs
import pytest

from helpers.clock import NOW
from sso_bridge.address import parse_address
from sso_bridge.errors import InvalidInput
from sso_bridge.sessions import (
    SessionError,
    SessionExpired,
    SessionIpChanged,
    SessionManager,
    session_from_bytes,
)
from sso_bridge.sessions.model import read_session, session_to_bytes

IP = "192.0.2.10"


def test_kept_decoding_follows_the_stored_bytes(manager: SessionManager) -> None:
    _, session = manager.start("acc-1", ip=IP, user_agent="ua", now=NOW, method="local")
    data = session_to_bytes(session)
    assert read_session(session.session_id, data) == session
    assert read_session(session.session_id, data) == session_from_bytes(session.session_id, data)
    later = session_to_bytes(attrs.evolve(session, last_seen_at=NOW + timedelta(minutes=5)))
    touched = read_session(session.session_id, later)
    assert touched is not None and touched.last_seen_at == NOW + timedelta(minutes=5)
    other = read_session("f" * 64, data)
    assert other is not None and other.session_id == "f" * 64
    assert read_session(session.session_id, b"[1,") is None
    assert read_session(session.session_id, bytearray(data)) == session


def test_a_touch_is_seen_by_the_next_validation(manager: SessionManager) -> None:
    token, _ = manager.start("acc-1", ip=IP, user_agent="ua", now=NOW, method="local")
    manager.validate(token, ip=IP, now=NOW + timedelta(seconds=1))
    touched = manager.validate(token, ip=IP, now=NOW + timedelta(minutes=2))
    assert touched.last_seen_at == NOW + timedelta(minutes=2)
    again = manager.validate(token, ip=IP, now=NOW + timedelta(minutes=2, seconds=1))
    assert again.last_seen_at == NOW + timedelta(minutes=2)


def test_every_check_runs_on_a_kept_session(manager: SessionManager) -> None:
    token, session = manager.start("acc-1", ip=IP, user_agent="ua", now=NOW, method="local")
    manager.validate(token, ip=IP, now=NOW)  # decoded and kept
    with pytest.raises(SessionExpired):
        manager.validate(token, ip=IP, now=NOW + timedelta(hours=9))
    with pytest.raises(SessionIpChanged):
        manager.validate(token, ip="192.0.2.11", now=NOW)
    with pytest.raises(SessionError) as ended:  # the IP change ended it, kept decoding or not
        manager.validate(token, ip=IP, now=NOW)
    assert ended.value.code == "session.unknown"
    other, kept = manager.start("acc-1", ip=IP, user_agent="ua", now=NOW, method="local")
    manager.validate(other, ip=IP, now=NOW)
    assert manager.revoke(kept.session_id)
    with pytest.raises(SessionError) as revoked:
        manager.validate(other, ip=IP, now=NOW)
    assert revoked.value.code == "session.unknown"
    assert session.session_id != kept.session_id


def test_parsed_addresses_are_kept_but_refusals_are_not() -> None:
    assert parse_address("::ffff:192.0.2.1") == ipaddress.IPv4Address("192.0.2.1")
    assert parse_address("::ffff:192.0.2.1") == ipaddress.IPv4Address("192.0.2.1")
    assert parse_address("2001:db8::1") == ipaddress.IPv6Address("2001:db8::1")
    for _ in range(2):
        with pytest.raises(InvalidInput) as refused:
            parse_address("192.0.2.300")
        assert refused.value.code == "input.bad_ip"
