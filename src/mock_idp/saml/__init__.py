"""The mock IdP's SAML 2.0 identity provider, without HTTP: metadata, single sign-on over
the HTTP-Redirect and HTTP-POST bindings, single logout, and faults for tests.

The IdP looks like ESIA's Shibboleth: entity ID and metadata at ``<base>/idp/shibboleth``,
single sign-on at ``<base>/idp/profile/SAML2/{Redirect,POST}/SSO``, single logout at
``<base>/idp/profile/SAML2/{Redirect,POST}/SLO``. Responses go to the service provider's
assertion consumer service over HTTP-POST; Response and Assertion are both signed (RSA-SHA256,
exclusive canonicalization, one enveloped reference), the assertion is encrypted for service
providers registered with ``encrypt_assertions=True``, the subject is a transient NameID and
the attributes carry ESIA's names (:data:`ESIA_ATTRIBUTES`).

What the web layer does for each endpoint::

    saml = SamlIdP("https://idp.example", state_dir=Path("state"))
    saml.register_sp(sp_metadata_xml)

    # GET  /idp/shibboleth                      -> saml.metadata(), application/samlmetadata+xml
    # GET  /idp/profile/SAML2/Redirect/SSO      -> saml.parse_authn_request(
    #          "redirect", request.query_params, query_string=request.url.query)
    # POST /idp/profile/SAML2/POST/SSO          -> saml.parse_authn_request("post", form)
    #      ... keep the AuthnRequestInfo through the login pages, then
    #      form = saml.login_response(info, person)           # a PostForm
    #      HTMLResponse(form.html())                          # auto-submits to the ACS
    # GET  /idp/profile/SAML2/Redirect/SLO      -> saml.logout("redirect", query, query_string=...)
    # POST /idp/profile/SAML2/POST/SLO          -> saml.logout("post", form)
    #      result.answer is a Redirect (303 to .url) or a PostForm (.html());
    #      a SAMLResponse there instead           -> saml.logout_response(binding, params, ...)
    # the IdP's own LogoutRequest                 -> saml.logout_request(sp_entity_id, sid)

Refusals are :class:`SamlRequestError` with a stable ``code``; they belong on an error page,
never in a response to an address taken from an unverified request.

pysaml2 builds the metadata and the protocol objects and reads incoming messages;
signatures and encryption are made in process by
:class:`sso_bridge.integrations.pysaml2.XmlSecBackend`. Everything else is the library's:
messages are decoded by :mod:`sso_bridge.saml.codec`, parsed by
:func:`sso_bridge.saml.xml.parse_xml`, and their signatures checked by
:func:`sso_bridge.saml.verify.verify_enveloped` (POST) or
:func:`sso_bridge.saml.codec.verify_redirect_signature` (Redirect), against the certificates
of the service provider's metadata only; pysaml2 would only ask for signatures globally, not
per service provider. A refusal of the library becomes the mock's :class:`SamlRequestError`.

The package's modules follow the IdP's seams: :mod:`~mock_idp.saml.model` (paths, limits,
service providers, accepted requests), :mod:`~mock_idp.saml.keys` (the signing key and its
files), :mod:`~mock_idp.saml.registry` (service providers from metadata or settings),
:mod:`~mock_idp.saml.requests` (decoding and checking incoming requests),
:mod:`~mock_idp.saml.assertions` (building, signing and encrypting responses),
:mod:`~mock_idp.saml.logout` and :mod:`~mock_idp.saml.slo` (single logout both ways),
:mod:`~mock_idp.saml.pages` (the POST form and the redirect), :mod:`~mock_idp.saml.faults`,
:mod:`~mock_idp.saml.errors`, and :mod:`~mock_idp.saml.idp`
(:class:`SamlIdP`, which holds the state and ties them together).
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
