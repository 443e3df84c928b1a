"""The mock IdP's addresses: ESIA's paths, and the names of its admin header and browser
cookie. The SAML paths are :data:`mock_idp.saml.SSO_PATHS`, :data:`~mock_idp.saml.SLO_PATHS`
and :data:`~mock_idp.saml.ENTITY_ID_PATH`."""

from __future__ import annotations

__all__ = [
    "ADMIN_HEADER",
    "AUTHORIZE_PATHS",
    "BROWSER_COOKIE",
    "CERTIFICATES_ARCHIVE_PATH",
    "CERTIFICATES_PATH",
    "END_SESSION_PATH",
    "ESIA_LOGOUT_PATH",
    "ORGANISATION_PATH",
    "TOKEN_PATHS",
]

AUTHORIZE_PATHS = ("/aas/oauth2/ac", "/aas/oauth2/v2/ac")
TOKEN_PATHS = ("/aas/oauth2/te", "/aas/oauth2/v3/te")
CERTIFICATES_PATH = "/aas/oauth2/certificates"
"""The mock's convenience: its GOST certificates as a JSON list of PEM texts."""
CERTIFICATES_ARCHIVE_PATH = "/aas/oauth2/certificates.zip"
"""ESIA's way: the signing certificates as a ZIP of certificate files (see
:mod:`mock_idp.archive`)."""
ORGANISATION_PATH = "/rs/orgs/{oid}"
"""ESIA's organisation document (scope ``usr_org``; INN and KPP are here, not in roles)."""
ESIA_LOGOUT_PATH = "/idp/ext/Logout"
"""ESIA's logout: ``client_id`` and ``redirect_url``; ends the browser's IdP session."""
END_SESSION_PATH = "/oidc/end_session"
"""OIDC RP-Initiated Logout 1.0 (``end_session_endpoint`` in discovery)."""
ADMIN_HEADER = "X-Mock-IdP-Admin"
"""The header that carries the admin token (``Authorization: Bearer`` works as well)."""
BROWSER_COOKIE = "mock_idp_browser"
"""The cookie that binds login transactions to the browser that opened them (with the
``__Host-`` prefix when the IdP is served over HTTPS)."""
