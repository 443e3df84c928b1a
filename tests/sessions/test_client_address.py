"""The client address is one parsed value: taken as an object, stored and audited as text."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from helpers.clock import NOW
from sessions.support import CSRF_KEY
from sso_bridge.broker import Client
from sso_bridge.errors import InvalidInput
from sso_bridge.sessions import (
    SessionIpChanged,
    SessionManager,
    SessionPolicy,
    client_address,
    client_ip,
)
from sso_bridge.store.memory import InMemoryEphemeralStore


@pytest.fixture
def manager() -> SessionManager:
    return SessionManager(InMemoryEphemeralStore(), SessionPolicy(), CSRF_KEY)


def test_the_edge_gives_an_address_and_the_former_call_its_text() -> None:
    proxies = ["10.0.0.0/8"]
    assert client_address("10.0.0.2", "::ffff:198.51.100.1", proxies) == IPv4Address("198.51.100.1")
    assert client_ip("10.0.0.2", "::ffff:198.51.100.1", proxies) == "198.51.100.1"


def test_a_client_takes_an_address_or_its_text() -> None:
    assert Client("b", "::ffff:192.0.2.1").ip == IPv4Address("192.0.2.1")
    assert Client("b", ip_address("2001:DB8::1")).ip == ip_address("2001:db8::1")
    assert Client("b", ip_address("::ffff:192.0.2.1")).ip == IPv4Address("192.0.2.1")
    with pytest.raises(InvalidInput):
        Client("b", "not-an-ip")


def test_ip_changed_carries_both_addresses(manager: SessionManager) -> None:
    token, session = manager.start(
        "acc-1", ip=ip_address("192.0.2.10"), user_agent="", now=NOW, method="local"
    )
    assert session.ip == "192.0.2.10" and session.address == IPv4Address("192.0.2.10")
    with pytest.raises(SessionIpChanged) as error:
        manager.validate(token, ip=ip_address("198.51.100.7"), now=NOW)
    assert error.value.bound == IPv4Address("192.0.2.10")
    assert error.value.seen == IPv4Address("198.51.100.7")
    assert (error.value.bound_ip, error.value.seen_ip) == ("192.0.2.10", "198.51.100.7")


def test_a_session_stored_as_text_is_validated_by_address(manager: SessionManager) -> None:
    token, _ = manager.start(
        "acc-1", ip="::ffff:192.0.2.10", user_agent="", now=NOW, method="local"
    )
    assert manager.validate(token, ip=IPv4Address("192.0.2.10"), now=NOW).ip == "192.0.2.10"
    assert manager.validate(token, ip=ip_address("::ffff:192.0.2.10"), now=NOW)
