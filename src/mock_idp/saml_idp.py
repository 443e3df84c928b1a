"""The mock IdP's SAML 2.0 identity provider under its first name: every public name of
:mod:`mock_idp.saml`, where the IdP lives, split along its seams.
"""

from __future__ import annotations

from mock_idp.saml.assertions import esia_attributes
from mock_idp.saml.errors import SamlRequestError
from mock_idp.saml.faults import FAULT_TIME_SHIFT, SamlFault
from mock_idp.saml.idp import SamlIdP
from mock_idp.saml.keys import SamlSigningKey
from mock_idp.saml.model import (
    ASSERTION_LIFETIME,
    ENTITY_ID_PATH,
    ESIA_ATTRIBUTES,
    MAX_MESSAGE_BYTES,
    MAX_METADATA_BYTES,
    MAX_SESSIONS,
    SLO_PATHS,
    SSO_PATHS,
    AuthnRequestInfo,
    Endpoint,
    LogoutOutcome,
    LogoutResult,
    SamlLogin,
    ServiceProvider,
)
from mock_idp.saml.pages import PostForm, Redirect

__all__ = [
    "ASSERTION_LIFETIME",
    "ENTITY_ID_PATH",
    "ESIA_ATTRIBUTES",
    "FAULT_TIME_SHIFT",
    "MAX_MESSAGE_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_SESSIONS",
    "SLO_PATHS",
    "SSO_PATHS",
    "AuthnRequestInfo",
    "Endpoint",
    "LogoutOutcome",
    "LogoutResult",
    "PostForm",
    "Redirect",
    "SamlFault",
    "SamlIdP",
    "SamlLogin",
    "SamlRequestError",
    "SamlSigningKey",
    "ServiceProvider",
    "esia_attributes",
]
