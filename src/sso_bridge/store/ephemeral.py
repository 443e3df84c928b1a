"""Deprecated location of the :class:`EphemeralStore` port, kept for one release.

The port moved to :mod:`sso_bridge.ephemeral` (``from sso_bridge.ephemeral import
EphemeralStore``); :mod:`sso_bridge.store` only implements it. This module re-exports it.
"""

from sso_bridge.ephemeral import EphemeralStore

__all__ = ["EphemeralStore"]
