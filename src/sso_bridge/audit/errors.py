"""Errors of the audit trail."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["ChainBroken"]


class ChainBroken(BridgeError):
    """The audit trail failed verification: a record was edited, removed, moved or added."""

    code = "audit.chain_broken"
