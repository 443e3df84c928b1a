"""A SAML 2.0 service provider with in-process, hardened signature verification.

The checks are split as :mod:`sso_bridge.oidc` is: safe parsing and ID lookup by string
(:mod:`.xml`), the bindings (:mod:`.codec`), configuration and IdP metadata
(:mod:`.config`, :mod:`.metadata`), the signature profile (:mod:`.verify`), the login
response (:mod:`.response`) and its decryption (:mod:`.encryption`), outgoing requests,
SP metadata and logout (:mod:`.requests`), and use-once server-side state (:mod:`.stores`)::

    config = ServiceProviderConfig.from_idp_metadata(xml, entity_id=..., acs_url=...,
                                                     idp_entity_id=...)
    redirect = build_authn_request(config, request_store=requests, clock=clock)
    result = process_response(form["SAMLResponse"], config, request_store=requests,
                              replay_cache=replays, clock=clock)   # -> LoginResult

Every refusal is a :class:`SamlError` (a :class:`~sso_bridge.errors.BridgeError`) with a
stable ``saml.*`` code.
"""

from sso_bridge.saml.codec import (
    BINDING_POST,
    BINDING_REDIRECT,
    decode_post,
    decode_redirect,
    redirect_signed_octets,
    verify_redirect_signature,
)
from sso_bridge.saml.config import (
    ESIA_ATTRIBUTE_NAMES,
    IDENTITY_FIELDS,
    OID_ATTRIBUTE_NAMES,
    ServiceProviderConfig,
)
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.metadata import idp_certificates_from_metadata, idp_endpoints_from_metadata
from sso_bridge.saml.requests import (
    RedirectRequest,
    build_authn_request,
    build_logout_request,
    process_logout_response,
    sp_metadata,
)
from sso_bridge.saml.response import LoginResult, identity_from_attributes, process_response
from sso_bridge.saml.stores import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    ReplayCache,
    RequestStore,
)
from sso_bridge.saml.verify import MIN_RSA_KEY_BITS, verify_element, verify_enveloped
from sso_bridge.saml.xml import XmlLimits, element_by_id, element_text, is_ncname, parse_xml

__all__ = [
    "BINDING_POST",
    "BINDING_REDIRECT",
    "ESIA_ATTRIBUTE_NAMES",
    "IDENTITY_FIELDS",
    "MIN_RSA_KEY_BITS",
    "OID_ATTRIBUTE_NAMES",
    "InMemoryReplayCache",
    "InMemoryRequestStore",
    "LoginResult",
    "RedirectRequest",
    "ReplayCache",
    "RequestStore",
    "SamlError",
    "ServiceProviderConfig",
    "XmlLimits",
    "build_authn_request",
    "build_logout_request",
    "decode_post",
    "decode_redirect",
    "element_by_id",
    "element_text",
    "identity_from_attributes",
    "idp_certificates_from_metadata",
    "idp_endpoints_from_metadata",
    "is_ncname",
    "parse_xml",
    "process_logout_response",
    "process_response",
    "redirect_signed_octets",
    "sp_metadata",
    "verify_element",
    "verify_enveloped",
    "verify_redirect_signature",
]
