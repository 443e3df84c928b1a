"""The service provider's outgoing SAML messages and its metadata.

:func:`build_authn_request` and :func:`build_logout_request` make requests for the
HTTP-Redirect binding (deflated, base64, URL-encoded, the query signed with RSA-SHA256 when
a signing key is configured) and record their IDs in a
:class:`~sso_bridge.saml.sp.RequestStore`; :func:`process_logout_response` checks the IdP's
answer to a logout request over either binding. :func:`sp_metadata` describes this service
provider to the IdP.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.clock import Clock
from sso_bridge.saml.codec import (
    BINDING_POST,
    BINDING_REDIRECT,
    decode_post,
    redirect_query,
    signed_redirect_root,
)
from sso_bridge.saml.config import ServiceProviderConfig
from sso_bridge.saml.errors import SamlConfigError, SamlInputError, refuse
from sso_bridge.saml.response import STATUS_SUCCESS
from sso_bridge.saml.stores import RequestStore
from sso_bridge.saml.verify import verify_enveloped
from sso_bridge.saml.xml import (
    DS_NS,
    MD_NS,
    NS,
    SAML_NS,
    SAMLP_NS,
    element_text,
    format_instant,
    new_id,
    parse_xml,
)

__all__ = [
    "LOGOUT_KEY_PREFIX",
    "MAX_RELAY_STATE_BYTES",
    "RedirectRequest",
    "build_authn_request",
    "build_logout_request",
    "process_logout_response",
    "sp_metadata",
]

NAMEID_TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
MAX_RELAY_STATE_BYTES: Final = 80
"""The SAML bindings' limit on RelayState."""
LOGOUT_KEY_PREFIX: Final = "logout "
"""Prefix of logout request IDs in the request store (a space never occurs in an XML ID),
so a LogoutResponse cannot consume a pending AuthnRequest nor the other way round."""


@attrs.frozen
class RedirectRequest:
    """A request to send the browser to (HTTP-Redirect binding) and its ID."""

    url: str
    request_id: str


def _element(parent: Any, tag: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _issuer(parent: Any, config: ServiceProviderConfig) -> None:
    _element(parent, f"{{{SAML_NS}}}Issuer", config.entity_id)


def _signer(config: ServiceProviderConfig, sign_with: bool | None) -> rsa.RSAPrivateKey | None:
    key = config.signing_key()
    if sign_with and key is None:
        raise SamlConfigError("no signing key is configured", code="saml.bad_config")
    return key if sign_with is not False else None


def _check_relay_state(relay_state: str | None) -> None:
    if relay_state is not None and len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
        raise SamlInputError(
            f"RelayState must not exceed {MAX_RELAY_STATE_BYTES} bytes",
            code="saml.relay_state_too_long",
        )


def _redirect_url(
    location: str,
    name: str,
    root: Any,
    relay_state: str | None,
    key: rsa.RSAPrivateKey | None,
) -> str:
    return redirect_query(location, name, etree.tostring(root, encoding="UTF-8"), relay_state, key)


# -- single sign-on ---------------------------------------------------------------------------


def build_authn_request(
    config: ServiceProviderConfig,
    *,
    request_store: RequestStore,
    clock: Clock,
    relay_state: str | None = None,
    sign_with: bool | None = None,
    force_authn: bool = False,
    authn_contexts: tuple[str, ...] = (),
) -> RedirectRequest:
    """An AuthnRequest to the IdP's HTTP-Redirect SSO endpoint, recorded as pending.

    ``force_authn`` asks the IdP to authenticate the person afresh (``ForceAuthn="true"``;
    the answer's ``AuthnInstant`` says whether it did, which the caller checks);
    ``authn_contexts`` asks for one of those context classes (``RequestedAuthnContext``,
    comparison ``exact``).

    The request asks for a transient NameID and an HTTP-POST response at the ACS. It is
    signed when ``sign_with`` is true, or when it is None and a signing key is configured.
    Its ID stays in ``request_store`` for ``config.request_lifetime``. A ``relay_state``
    over 80 bytes is refused (``InvalidInput``, ``saml.relay_state_too_long``).
    """
    if not config.idp_sso_url:
        raise SamlConfigError("the IdP's SSO URL is not configured", code="saml.bad_config")
    _check_relay_state(relay_state)
    key = _signer(config, sign_with)
    now = clock.now()
    request_id = new_id()
    fields = (config, request_id, format_instant(now), force_authn, authn_contexts)
    xml = _authn_request_text(*fields)
    if xml is None:
        xml = etree.tostring(_authn_request_tree(*fields), encoding="UTF-8")
    url = redirect_query(config.idp_sso_url, "SAMLRequest", xml, relay_state, key)
    request_store.add(request_id, now + config.request_lifetime)
    return RedirectRequest(url, request_id)


def _authn_request_tree(
    config: ServiceProviderConfig,
    request_id: str,
    instant: str,
    force_authn: bool,
    authn_contexts: tuple[str, ...],
) -> Any:
    root = etree.Element(
        f"{{{SAMLP_NS}}}AuthnRequest",
        {
            "ID": request_id,
            "Version": "2.0",
            "IssueInstant": instant,
            "Destination": config.idp_sso_url,
            "AssertionConsumerServiceURL": config.acs_url,
            "ProtocolBinding": BINDING_POST,
            **({"ForceAuthn": "true"} if force_authn else {}),
        },
        nsmap={"samlp": SAMLP_NS, "saml": SAML_NS},
    )
    _issuer(root, config)
    _element(root, f"{{{SAMLP_NS}}}NameIDPolicy", Format=NAMEID_TRANSIENT, AllowCreate="true")
    if authn_contexts:
        requested = _element(root, f"{{{SAMLP_NS}}}RequestedAuthnContext", Comparison="exact")
        for reference in authn_contexts:
            _element(requested, f"{{{SAML_NS}}}AuthnContextClassRef", reference)
    return root


_PLAIN: Final = re.compile(r"[ !#-%'-;=?-~]+")
"""Printable ASCII that XML writes as it is, in text and in attribute values alike."""

_AUTHN_REQUEST: Final = (
    f'<samlp:AuthnRequest xmlns:samlp="{SAMLP_NS}" xmlns:saml="{SAML_NS}" ID="{{id}}" '
    'Version="2.0" IssueInstant="{instant}" Destination="{destination}" '
    f'AssertionConsumerServiceURL="{{acs}}" ProtocolBinding="{BINDING_POST}"{{force}}>'
    "<saml:Issuer>{issuer}</saml:Issuer>"
    f'<samlp:NameIDPolicy Format="{NAMEID_TRANSIENT}" AllowCreate="true"/>'
    "{contexts}</samlp:AuthnRequest>"
)


def _authn_request_text(
    config: ServiceProviderConfig,
    request_id: str,
    instant: str,
    force_authn: bool,
    authn_contexts: tuple[str, ...],
) -> bytes | None:
    """The bytes lxml writes for :func:`_authn_request_tree`, from a template, when every
    value is plain (nothing to escape); None otherwise. A fifth of building the tree."""
    destination = config.idp_sso_url
    if destination is None:
        return None
    values = (config.entity_id, destination, config.acs_url, request_id, instant)
    if not all(_PLAIN.fullmatch(value) for value in (*values, *authn_contexts)):
        return None
    contexts = "".join(
        f"<saml:AuthnContextClassRef>{reference}</saml:AuthnContextClassRef>"
        for reference in authn_contexts
    )
    if contexts:
        contexts = (
            '<samlp:RequestedAuthnContext Comparison="exact">'
            f"{contexts}</samlp:RequestedAuthnContext>"
        )
    return _AUTHN_REQUEST.format(
        id=request_id,
        instant=instant,
        destination=destination,
        acs=config.acs_url,
        force=' ForceAuthn="true"' if force_authn else "",
        issuer=config.entity_id,
        contexts=contexts,
    ).encode("ascii")


# -- metadata ---------------------------------------------------------------------------------


def sp_metadata(config: ServiceProviderConfig) -> str:
    """This service provider's SAML metadata: ACS (HTTP-POST), SLO (both bindings) when
    ``slo_url`` is set, transient NameIDs, its certificates, ``AuthnRequestsSigned`` when a
    signing key is configured and ``WantAssertionsSigned``."""
    root = etree.Element(
        f"{{{MD_NS}}}EntityDescriptor",
        {"entityID": config.entity_id},
        nsmap={"md": MD_NS, "ds": DS_NS},
    )
    descriptor = _element(
        root,
        f"{{{MD_NS}}}SPSSODescriptor",
        protocolSupportEnumeration=SAMLP_NS,
        AuthnRequestsSigned="true" if config.signing_key_pem is not None else "false",
        WantAssertionsSigned="true",
    )
    for use, pem in (
        ("signing", config.signing_certificate_pem),
        ("encryption", config.encryption_certificate_pem),
    ):
        if pem is not None:
            certificate = x509.load_pem_x509_certificate(pem)
            body = base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")
            key_descriptor = _element(descriptor, f"{{{MD_NS}}}KeyDescriptor", use=use)
            key_info = _element(key_descriptor, f"{{{DS_NS}}}KeyInfo")
            data = _element(key_info, f"{{{DS_NS}}}X509Data")
            _element(data, f"{{{DS_NS}}}X509Certificate", body)
    if config.slo_url:
        for binding in (BINDING_REDIRECT, BINDING_POST):
            _element(
                descriptor,
                f"{{{MD_NS}}}SingleLogoutService",
                Binding=binding,
                Location=config.slo_url,
            )
    _element(descriptor, f"{{{MD_NS}}}NameIDFormat", NAMEID_TRANSIENT)
    _element(
        descriptor,
        f"{{{MD_NS}}}AssertionConsumerService",
        Binding=BINDING_POST,
        Location=config.acs_url,
        index="0",
        isDefault="true",
    )
    return str(etree.tostring(root, encoding="UTF-8", xml_declaration=True).decode("utf-8"))


# -- single logout ----------------------------------------------------------------------------


def build_logout_request(
    config: ServiceProviderConfig,
    name_id: str,
    *,
    request_store: RequestStore,
    clock: Clock,
    session_index: str | None = None,
    relay_state: str | None = None,
    sign_with: bool | None = None,
) -> RedirectRequest:
    """A LogoutRequest for the transient ``name_id`` to the IdP's HTTP-Redirect SLO
    endpoint, recorded as pending (under :data:`LOGOUT_KEY_PREFIX`); signed as
    :func:`build_authn_request` is."""
    if not config.idp_slo_url:
        raise SamlConfigError("the IdP's SLO URL is not configured", code="saml.bad_config")
    _check_relay_state(relay_state)
    key = _signer(config, sign_with)
    now = clock.now()
    request_id = new_id()
    root = etree.Element(
        f"{{{SAMLP_NS}}}LogoutRequest",
        {
            "ID": request_id,
            "Version": "2.0",
            "IssueInstant": format_instant(now),
            "Destination": config.idp_slo_url,
        },
        nsmap={"samlp": SAMLP_NS, "saml": SAML_NS},
    )
    _issuer(root, config)
    _element(root, f"{{{SAML_NS}}}NameID", name_id, Format=NAMEID_TRANSIENT)
    if session_index is not None:
        _element(root, f"{{{SAMLP_NS}}}SessionIndex", session_index)
    url = _redirect_url(config.idp_slo_url, "SAMLRequest", root, relay_state, key)
    request_store.add(LOGOUT_KEY_PREFIX + request_id, now + config.request_lifetime)
    return RedirectRequest(url, request_id)


def process_logout_response(
    params: Mapping[str, str],
    config: ServiceProviderConfig,
    *,
    binding: str,
    request_store: RequestStore,
    clock: Clock,
    query_string: str | None = None,
) -> str:
    """Check a LogoutResponse and return the ID of the logout request it answers.

    ``binding`` is ``"redirect"`` (``params`` is the query; the signature in it is checked
    over ``query_string``, the raw query, when given) or ``"post"`` (``params`` is the form;
    the response carries an enveloped signature). Either way the signature is required and
    checked against the IdP's certificates only. The response must be a Success from the
    IdP, addressed to ``slo_url`` and answer a pending logout
    request, which it consumes. Raises :class:`SamlError`.
    """
    now = clock.now()
    encoded = params.get("SAMLResponse")
    if not encoded:
        raise refuse("saml.not_a_response", "SAMLResponse is missing")
    root = _signed_logout_response(params, encoded, config, binding, query_string)
    if root.tag != f"{{{SAMLP_NS}}}LogoutResponse":
        raise refuse("saml.not_a_response", "the message is not a LogoutResponse")
    if root.get("Version") != "2.0":
        raise refuse("saml.bad_version", "only SAML 2.0 is accepted")
    issuers = root.findall("saml:Issuer", NS)
    if len(issuers) != 1 or element_text(issuers[0]).strip() != config.idp_entity_id:
        raise refuse("saml.wrong_issuer", "the message is not from the configured IdP")
    if root.get("Destination") != config.slo_url:
        raise refuse("saml.wrong_destination", "the LogoutResponse is addressed elsewhere")
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if status is None or status.get("Value") != STATUS_SUCCESS:
        raise refuse("saml.status_not_success", "the IdP reports that the logout failed")
    in_response_to = root.get("InResponseTo")
    if not in_response_to or not request_store.consume(LOGOUT_KEY_PREFIX + in_response_to, now):
        raise refuse(
            "saml.in_response_to_mismatch", "the LogoutResponse answers no pending request"
        )
    return str(in_response_to)


def _signed_logout_response(
    params: Mapping[str, str],
    encoded: str,
    config: ServiceProviderConfig,
    binding: str,
    query_string: str | None,
) -> Any:
    """The LogoutResponse's root, parsed and its signature checked as ``binding`` carries it."""
    if binding == "redirect":
        return signed_redirect_root("SAMLResponse", params, encoded, config, query_string)
    if binding == "post":
        limit = config.max_response_bytes
        root = parse_xml(decode_post(encoded, limit), max_bytes=limit, limits=config.xml_limits)
        if root.find("ds:Signature", NS) is None:
            raise refuse("saml.unsigned", "the LogoutResponse is not signed")
        response_id = root.get("ID")
        verified = verify_enveloped(
            root, response_id or "", config.idp_certificates, min_rsa_bits=config.min_rsa_key_bits
        )
        if verified is not root:
            raise refuse("saml.unsigned", "the LogoutResponse itself is not signed")
        return root
    raise SamlInputError(
        f"unknown binding {binding!r}; use 'redirect' or 'post'", code="saml.unknown_binding"
    )
