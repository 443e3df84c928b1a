"""The error family of :mod:`sso_bridge.esia`."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["EsiaError"]


class EsiaError(BridgeError):
    """ESIA's GOST keys, certificates, signers or client secrets were refused or failed."""

    code = "esia.error"
