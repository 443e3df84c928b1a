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

from sso_bridge.errors import ConfigError, InvalidInput

__all__ = ["IpBinding", "client_ip", "parse_ip"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IpAddress:
    """``text`` as an address; an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is
    returned as the IPv4 address it maps. Anything else is ``input.bad_ip``."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"not an IP address: {text[:64]!r}", code="input.bad_ip") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


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

    def same_client(self, a: str, b: str) -> bool:
        """Whether addresses ``a`` and ``b`` count as one client; ``input.bad_ip`` if
        either is not an address."""
        if a == b:
            return True
        first, second = parse_ip(a), parse_ip(b)
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


def client_ip(
    remote_addr: str, forwarded_for: str | None, trusted_proxies: Sequence[str] = ()
) -> str:
    """The address of the client a request comes from, in canonical form.

    ``remote_addr`` is the direct peer. ``forwarded_for`` (the ``X-Forwarded-For`` header;
    several such headers joined with commas, in order) is consulted only when the peer is
    inside one of the ``trusted_proxies`` networks: the header is then read from the right,
    skipping addresses of trusted proxies, and the first other address is the client. If
    every address is a trusted proxy, the leftmost one is taken. A malformed address on
    that walk is ``input.bad_ip``; what lies left of the client is never read.
    """
    peer = parse_ip(remote_addr.strip())
    networks = _networks(tuple(trusted_proxies))
    if not forwarded_for or not _trusted(peer, networks):
        return str(peer)
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        client = parse_ip(entry.strip())
        if not _trusted(client, networks):
            break
    return str(client)
