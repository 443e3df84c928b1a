"""Which client a request comes from, and whether two addresses are the same client.

``X-Forwarded-For`` is written by whoever sends the request, so it is read only when the
direct peer is one of the reverse proxies the deployment names explicitly; nothing is
trusted by default.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence

import attrs

from sso_bridge.address import ClientAddress, as_address, parse_address
from sso_bridge.errors import ConfigError

__all__ = ["IpBinding", "client_address", "client_ip", "parse_ip"]

IpAddress = ClientAddress
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

parse_ip = parse_address
"""The former name of :func:`sso_bridge.address.parse_address`."""


def _check_prefix(limit: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if type(value) is not int or not 0 <= value <= limit:
            raise ConfigError(
                f"{attribute.name} must be an integer from 0 to {limit}", code="config.invalid"
            )

    return check


@attrs.frozen
class IpBinding:
    """How closely a session is bound to its client's address: the leading
    ``ipv4_prefix`` bits of an IPv4 address, ``ipv6_prefix`` bits of an IPv6 one.

    The defaults bind to the exact address. A shorter prefix (``/24``, ``/64``) tolerates
    clients whose address moves within their network, at the cost of accepting a stolen
    token from a neighbour.
    """

    ipv4_prefix: int = attrs.field(default=32, validator=_check_prefix(32))
    ipv6_prefix: int = attrs.field(default=128, validator=_check_prefix(128))

    def same_client(self, a: ClientAddress | str, b: ClientAddress | str) -> bool:
        """Whether addresses ``a`` and ``b`` count as one client. The text form is still
        taken (``input.bad_ip`` if it is not an address)."""
        first, second = as_address(a), as_address(b)
        if first is second or first == second:
            return True
        if first.version != second.version:
            return False
        prefix = self.ipv4_prefix if first.version == 4 else self.ipv6_prefix
        shift = first.max_prefixlen - prefix
        return int(first) >> shift == int(second) >> shift


@functools.lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    networks = []
    for text in trusted:
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(
                f"trusted proxy {text[:64]!r} is not an address or network", code="config.invalid"
            ) from None
    return tuple(networks)


def _trusted(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(
    remote_addr: str, forwarded_for: str | None, trusted_proxies: Sequence[str] = ()
) -> ClientAddress:
    """The address of the client a request comes from, parsed: the one place where a
    request's address text becomes a :data:`~sso_bridge.address.ClientAddress`.

    ``remote_addr`` is the direct peer. ``forwarded_for`` (the ``X-Forwarded-For`` header;
    several such headers joined with commas, in order) is consulted only when the peer is
    inside one of the ``trusted_proxies`` networks: the header is then read from the right,
    skipping addresses of trusted proxies, and the first other address is the client. If
    every address is a trusted proxy, the leftmost one is taken. A malformed address on
    that walk is ``input.bad_ip``; what lies left of the client is never read.
    """
    peer = parse_address(remote_addr.strip())
    networks = _networks(tuple(trusted_proxies))
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        client = parse_address(entry.strip())
        if not _trusted(client, networks):
            break
    return client


def client_ip(
    remote_addr: str, forwarded_for: str | None, trusted_proxies: Sequence[str] = ()
) -> str:
    """:func:`client_address` in its canonical text form (the former interface)."""
    return str(client_address(remote_addr, forwarded_for, trusted_proxies))
