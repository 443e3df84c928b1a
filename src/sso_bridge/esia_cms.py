"""Deprecated for one release: ESIA's v1 CMS client secret moved to
:mod:`sso_bridge.esia.cms`."""

from __future__ import annotations

import warnings

from sso_bridge.esia.cms import (
    MAX_SECRET_LENGTH,
    check_timestamp,
    client_secret_message,
    esia_timestamp,
    parse_esia_timestamp,
    sign_client_secret,
    verify_client_secret,
)

__all__ = [
    "MAX_SECRET_LENGTH",
    "check_timestamp",
    "client_secret_message",
    "esia_timestamp",
    "parse_esia_timestamp",
    "sign_client_secret",
    "verify_client_secret",
]

warnings.warn("sso_bridge.esia_cms moved to sso_bridge.esia.cms", DeprecationWarning, stacklevel=2)
