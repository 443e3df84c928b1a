"""Client addresses: IP binding by prefix, and X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest

from sso_bridge.errors import ConfigError, InvalidInput
from sso_bridge.sessions import IpBinding, client_ip

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("192.0.2.1", "192.0.2.1", True),
        ("192.0.2.1", "192.0.2.2", False),
        ("::ffff:192.0.2.1", "192.0.2.1", True),
        ("2001:db8::1", "2001:DB8:0:0::1", True),
        ("2001:db8::1", "2001:db8::2", False),
        ("192.0.2.1", "::ffff:192.0.2.2", False),
        ("192.0.2.1", "2001:db8::1", False),
    ],
)
def test_exact_binding(a: str, b: str, same: bool) -> None:
    assert IpBinding().same_client(a, b) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("192.0.2.1", "192.0.2.254", True),
        ("192.0.2.1", "192.0.3.1", False),
        ("::ffff:192.0.2.1", "192.0.2.99", True),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("192.0.2.1", "::ffff:c000:201", True),  # the same mapped address, written in hex
        ("192.0.2.1", "2001:db8:1:2::1", False),
    ],
)
def test_prefix_binding(a: str, b: str, same: bool) -> None:
    binding = IpBinding(ipv4_prefix=24, ipv6_prefix=64)
    assert binding.same_client(a, b) is same
    assert binding.same_client(b, a) is same


def test_zero_prefix_binds_only_the_family() -> None:
    binding = IpBinding(ipv4_prefix=0, ipv6_prefix=0)
    assert binding.same_client("192.0.2.1", "203.0.113.9")
    assert not binding.same_client("192.0.2.1", "2001:db8::1")


@pytest.mark.parametrize(
    "fields", [{"ipv4_prefix": 33}, {"ipv6_prefix": -1}, {"ipv4_prefix": "24"}]
)
def test_bad_prefix(fields: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        IpBinding(**fields)  # type: ignore[arg-type]


def test_malformed_address_in_binding() -> None:
    with pytest.raises(InvalidInput) as error:
        IpBinding().same_client("192.0.2.1", "192.0.2.x")
    assert error.value.code == "input.bad_ip"


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    # anyone can send the header; without configured proxies it means nothing
    assert client_ip("203.0.113.5", "198.51.100.1") == "203.0.113.5"
    assert client_ip("203.0.113.5", "198.51.100.1", PROXIES) == "203.0.113.5"
    assert client_ip("203.0.113.5", "garbage", PROXIES) == "203.0.113.5"


def test_header_from_a_trusted_proxy() -> None:
    assert client_ip("10.0.0.2", "198.51.100.1", PROXIES) == "198.51.100.1"
    assert client_ip("10.0.0.2", None, PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", "", PROXIES) == "10.0.0.2"


def test_spoofed_left_part_of_the_header_is_not_taken() -> None:
    # the client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the real address
    assert client_ip("10.0.0.2", "1.1.1.1, 198.51.100.1", PROXIES) == "198.51.100.1"
    assert client_ip("10.0.0.2", "not-an-ip, 198.51.100.1", PROXIES) == "198.51.100.1"


def test_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    header = "1.1.1.1, 198.51.100.1, 10.1.2.3, 10.9.9.9"
    assert client_ip("10.0.0.2", header, PROXIES) == "198.51.100.1"


def test_a_chain_of_only_trusted_proxies_gives_the_leftmost() -> None:
    assert client_ip("10.0.0.2", "10.3.3.3, 10.1.1.1", PROXIES) == "10.3.3.3"


def test_ipv6_proxies_and_clients() -> None:
    header = "2001:db8:1::abcd, 2001:db8:ffff:1::1"
    assert client_ip("2001:db8:ffff::2", header, PROXIES) == "2001:db8:1::abcd"
    assert client_ip("::ffff:10.0.0.2", "::ffff:198.51.100.1", PROXIES) == "198.51.100.1"
    assert client_ip("2001:DB8:0::1", None) == "2001:db8::1"


def test_a_single_trusted_address() -> None:
    assert client_ip("127.0.0.1", "198.51.100.1", ["127.0.0.1"]) == "198.51.100.1"
    assert client_ip("127.0.0.2", "198.51.100.1", ["127.0.0.1"]) == "127.0.0.2"


@pytest.mark.parametrize(
    ("remote", "header"),
    [
        ("not-an-ip", None),
        ("", None),
        ("10.0.0.2", "198.51.100.1:443"),
        ("10.0.0.2", "unknown"),
        ("10.0.0.2", "198.51.100.1,,10.0.0.3"),
        ("10.0.0.2", "[2001:db8::1]"),
    ],
)
def test_malformed_addresses(remote: str, header: str | None) -> None:
    with pytest.raises(InvalidInput) as error:
        client_ip(remote, header, PROXIES)
    assert error.value.code == "input.bad_ip"


def test_malformed_proxy_configuration() -> None:
    with pytest.raises(ConfigError):
        client_ip("10.0.0.2", "198.51.100.1", ["10.0.0.0/33"])
