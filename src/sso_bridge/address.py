"""The client address: one value, parsed once where a request comes in.

The web edge (:meth:`sso_bridge.web.base.RoutesBase.visit`, after the trusted-proxy walk
of :func:`sso_bridge.sessions.client_address`) turns the peer's text into a
:data:`ClientAddress`; the broker, the session manager and the session binding take that
object. What is stored or audited is its canonical ``str()``.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TypeAlias

from sso_bridge.errors import InvalidInput

__all__ = ["ClientAddress", "as_address", "parse_address"]

ClientAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
"""An IP address; an IPv4-mapped IPv6 address is always held as the IPv4 address."""

_ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


def parse_address(text: str) -> ClientAddress:
    """``text`` as an address; an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is
    returned as the IPv4 address it maps. Anything else is ``input.bad_ip``."""
    if type(text) is str:
        return _parse_text(text)
    return _parse(text)


def _parse(text: str) -> ClientAddress:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"not an IP address: {text[:64]!r}", code="input.bad_ip") from None
    return _unmapped(address)


# Every validated request parses its client's address and the session's (~1.8 µs each);
# addresses are immutable, so the parsed ones are kept (refusals are never cached).
_parse_text = functools.lru_cache(maxsize=4096)(_parse)


def _unmapped(address: ClientAddress) -> ClientAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def as_address(value: ClientAddress | str) -> ClientAddress:
    """``value`` as a :data:`ClientAddress`: an address as it is (IPv4-mapped ones
    unmapped), a string parsed (:func:`parse_address`). For constructors that still
    accept the text form."""
    if type(value) is ipaddress.IPv4Address:
        return value
    if isinstance(value, _ADDRESS_TYPES):
        return _unmapped(value)
    if isinstance(value, str):
        return parse_address(value)
    raise InvalidInput("a client address must be an IP address", code="input.bad_ip")
