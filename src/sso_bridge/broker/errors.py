"""The broker's refusals: ``broker.*`` codes (docs/errors.md)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["BadCredentials", "BrokerError"]


class BrokerError(BridgeError):
    """A login step refused by the broker's rules."""

    code = "broker.error"


class BadCredentials(BrokerError):
    """Unknown login and wrong password look the same to the person."""

    def __init__(self) -> None:
        super().__init__("wrong organisation, login or password", code="auth.bad_password")
