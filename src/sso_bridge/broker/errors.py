"""The broker's refusals: ``broker.*`` codes (docs/errors.md)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["BrokerError"]


class BrokerError(BridgeError):
    """A login step refused by the broker's rules."""

    code = "broker.error"
