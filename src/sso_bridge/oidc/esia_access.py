"""Deprecated for one release: ESIA's access token checks moved to
:mod:`sso_bridge.esia.access_token`."""

from __future__ import annotations

import warnings

from sso_bridge.esia.access_token import (
    SUBJECT_CLAIM,
    EsiaAccessToken,
    access_token_subject,
    esia_subject,
    validate_esia_access_token,
)

__all__ = [
    "SUBJECT_CLAIM",
    "EsiaAccessToken",
    "access_token_subject",
    "esia_subject",
    "validate_esia_access_token",
]

warnings.warn(
    "sso_bridge.oidc.esia_access moved to sso_bridge.esia.access_token",
    DeprecationWarning,
    stacklevel=2,
)
