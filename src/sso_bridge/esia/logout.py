"""Logout at ESIA: ``/idp/ext/Logout?client_id=...&redirect_url=...`` ends the browser's
session at ESIA and sends it back to ``redirect_url`` (an address registered for the
system). ESIA sends nothing back to check, so such a logout carries no ``state``."""

from __future__ import annotations

from urllib.parse import urlencode

from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.token_errors import OidcLogoutError

__all__ = ["esia_logout_url"]


def esia_logout_url(config: ProviderConfig, redirect_url: str) -> str:
    """ESIA's logout address for ``config``'s system, coming back to ``redirect_url``
    (``oidc.no_end_session`` when no logout address is configured)."""
    endpoint = config.end_session_endpoint
    if not endpoint:
        raise OidcLogoutError(
            f"no ESIA logout address is configured for {config.issuer}", code="oidc.no_end_session"
        )
    query = urlencode({"client_id": config.client_id, "redirect_url": redirect_url})
    return endpoint + ("&" if "?" in endpoint else "?") + query
