"""Deprecated for one release: ESIA's keyring moved to :mod:`sso_bridge.esia.keys`."""

from __future__ import annotations

import warnings

from sso_bridge.esia.keys import GostKeyring

__all__ = ["GostKeyring"]

warnings.warn(
    "sso_bridge.oidc.esia_keys moved to sso_bridge.esia.keys", DeprecationWarning, stacklevel=2
)
