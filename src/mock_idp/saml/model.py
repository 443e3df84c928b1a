"""The SAML IdP's paths, limits and value types: service providers as read from their
metadata, an accepted AuthnRequest, the answer to a LogoutRequest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import attrs
from saml2 import saml

from mock_idp.saml.pages import PostForm, Redirect
from sso_bridge.integrations.pysaml2 import RSA_SHA256, SHA256
from sso_bridge.saml.codec import BINDING_POST, BINDING_REDIRECT
from sso_bridge.saml.xml import MAX_DOCUMENT_BYTES

__all__ = [
    "ASSERTION_LIFETIME",
    "ENTITY_ID_PATH",
    "ESIA_ATTRIBUTES",
    "MAX_MESSAGE_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_SESSIONS",
    "SLO_PATHS",
    "SSO_PATHS",
    "AuthnRequestInfo",
    "Endpoint",
    "LogoutOutcome",
    "LogoutResult",
    "SamlLogin",
    "ServiceProvider",
    "binding_urn",
    "is_true",
    "pysaml2_settings",
]

ENTITY_ID_PATH: Final = "/idp/shibboleth"
SSO_PATHS: Final[Mapping[str, str]] = {
    BINDING_REDIRECT: "/idp/profile/SAML2/Redirect/SSO",
    BINDING_POST: "/idp/profile/SAML2/POST/SSO",
}
SLO_PATHS: Final[Mapping[str, str]] = {
    BINDING_REDIRECT: "/idp/profile/SAML2/Redirect/SLO",
    BINDING_POST: "/idp/profile/SAML2/POST/SLO",
}

ESIA_ATTRIBUTES: Final = (
    "userId",
    "lastName",
    "firstName",
    "middleName",
    "birthDate",
    "gender",
    "personSNILS",
    "trusted",
    "personEMail",
    "personMobilePhone",
)
"""Attribute names as ESIA sends them (NameFormat basic, FriendlyName the same)."""

ASSERTION_LIFETIME: Final = timedelta(minutes=5)
MAX_MESSAGE_BYTES: Final = MAX_DOCUMENT_BYTES  # an incoming request, decoded
MAX_METADATA_BYTES: Final = 4 * 1024 * 1024
MAX_SESSIONS: Final = 10_000

_BINDING_NAMES: Final[Mapping[str, str]] = {
    "redirect": BINDING_REDIRECT,
    "post": BINDING_POST,
    BINDING_REDIRECT.lower(): BINDING_REDIRECT,
    BINDING_POST.lower(): BINDING_POST,
}


def binding_urn(name: str) -> str:
    """The binding URN for ``"redirect"``, ``"post"`` or the URN itself (any case)."""
    try:
        return _BINDING_NAMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown binding {name!r}; use 'redirect' or 'post'") from None


def is_true(value: object) -> bool:
    """An XML boolean (or a metadata flag pysaml2 kept as text) read as ``bool``."""
    return str(value).strip().lower() in ("true", "1")


def pysaml2_settings(
    entity_id: str, base_url: str, *, key_file: Path, cert_file: Path
) -> dict[str, Any]:
    """pysaml2's configuration of the IdP: its key files, endpoints and algorithms."""
    return {
        "entityid": entity_id,
        "key_file": str(key_file),
        "cert_file": str(cert_file),
        "metadata": {},
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (base_url + path, binding) for binding, path in SSO_PATHS.items()
                    ],
                    "single_logout_service": [
                        (base_url + path, binding) for binding, path in SLO_PATHS.items()
                    ],
                },
                "name_id_format": [saml.NAMEID_FORMAT_TRANSIENT],
                "want_authn_requests_signed": False,
                "signing_algorithm": RSA_SHA256,
                "digest_algorithm": SHA256,
            }
        },
    }


@attrs.frozen
class Endpoint:
    """A service provider endpoint from its metadata."""

    binding: str
    location: str
    response_location: str | None = None
    index: int | None = None
    is_default: bool = False


@attrs.frozen
class ServiceProvider:
    """A service provider known to the IdP, as read from its metadata."""

    entity_id: str
    assertion_consumer_services: tuple[Endpoint, ...]  # HTTP-POST only
    logout_services: tuple[Endpoint, ...] = ()
    signing_certificates: tuple[str, ...] = ()  # base64 DER
    encryption_certificate: str | None = None  # base64 DER
    want_signed_requests: bool = False
    encrypt_assertions: bool = False

    @property
    def default_acs(self) -> Endpoint:
        """The ``isDefault`` ACS, else the one with the lowest index, else the first."""
        services = self.assertion_consumer_services
        flagged = [s for s in services if s.is_default]
        if flagged:
            return flagged[0]
        indexed = sorted((s for s in services if s.index is not None), key=lambda s: s.index or 0)
        return indexed[0] if indexed else services[0]

    def logout_service(self, binding: str) -> Endpoint | None:
        """The SLO endpoint for ``binding``, else any SLO endpoint, else None."""
        same = [s for s in self.logout_services if s.binding == binding]
        candidates = same or list(self.logout_services)
        return candidates[0] if candidates else None


@attrs.frozen
class AuthnRequestInfo:
    """An accepted AuthnRequest: what the login response needs, kept by the web layer."""

    id: str
    sp_entity_id: str
    acs_url: str
    binding: str  # the binding the request came over
    relay_state: str | None = None
    force_authn: bool = False
    is_passive: bool = False
    name_id_format: str | None = None  # requested; the answer is always transient
    signed: bool = False


@attrs.frozen
class LogoutResult:
    """The answer to a LogoutRequest and whom it was about."""

    answer: PostForm | Redirect
    sp_entity_id: str
    name_id: str | None
    oid: int | None  # the person this IdP issued the NameID for, if it did
    sid: str | None = None  # the IdP session it was issued in, if SessionIndex matched


@attrs.frozen
class SamlLogin:
    """A NameID the IdP issued to a service provider, kept for single logout."""

    oid: int
    session_index: str  # the IdP session's sid, or a new id for a login outside one
    name_id: str


@attrs.frozen
class LogoutOutcome:
    """A service provider's checked answer to an IdP-initiated LogoutRequest."""

    request_id: str
    sp_entity_id: str
    status: str  # the top-level StatusCode
    sub_status: str | None = None

    @property
    def success(self) -> bool:
        return self.status == "urn:oasis:names:tc:SAML:2.0:status:Success"
