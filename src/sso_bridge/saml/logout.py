"""Single logout at the service provider, beyond :func:`~sso_bridge.saml.requests.
build_logout_request`: a LogoutRequest sent over HTTP-POST, the IdP's own LogoutRequest
checked (:func:`read_logout_request`) and answered (:func:`logout_response`).

An IdP-initiated LogoutRequest is held to what a login response is: a signature by the
IdP's certificates only (over the Redirect query, or enveloping the request itself for
POST), the IdP as Issuer, this SP's ``slo_url`` as Destination, an ``IssueInstant`` neither
in the future nor older than ``request_lifetime``, a ``NotOnOrAfter`` not passed, and each
request ID accepted once. The answer is signed with the SP's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

import attrs
import xmlsec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.saml.codec import (
    decode_post,
    encode_post,
    redirect_query,
    signed_redirect_root,
)
from sso_bridge.saml.config import ServiceProviderConfig
from sso_bridge.saml.errors import SamlConfigError, SamlInputError, SamlLogoutError, refuse
from sso_bridge.saml.requests import LOGOUT_KEY_PREFIX, NAMEID_TRANSIENT
from sso_bridge.saml.response import STATUS_SUCCESS
from sso_bridge.saml.stores import ReplayCache, RequestStore
from sso_bridge.saml.verify import verify_element
from sso_bridge.saml.xml import (
    NS,
    SAML_NS,
    SAMLP_NS,
    element_text,
    format_instant,
    new_id,
    parse_instant,
    parse_xml,
    require_ncname,
)

__all__ = [
    "Binding",
    "IncomingLogout",
    "logout_request_post",
    "logout_response",
    "read_logout_request",
]

Binding = Literal["redirect", "post"]
_REQUEST_TAG: Final = f"{{{SAMLP_NS}}}LogoutRequest"
_C = xmlsec.constants


@attrs.frozen
class IncomingLogout:
    """An IdP's LogoutRequest, checked: whom it logs out and how to answer."""

    request_id: str
    name_id: str
    session_indexes: tuple[str, ...]
    relay_state: str | None
    binding: Binding


def _signing_key_pem(config: ServiceProviderConfig) -> bytes:
    key = config.signing_key()
    if key is None:
        raise SamlConfigError("no signing key is configured", code="saml.bad_config")
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _sign(root: Any, config: ServiceProviderConfig) -> bytes:
    """``root`` with an enveloped RSA-SHA256 signature by the SP's key, serialised."""
    issuer = root.find("saml:Issuer", NS)
    try:
        signature = xmlsec.template.create(
            root, _C.TransformExclC14N, _C.TransformRsaSha256, ns="ds"
        )
        issuer.addnext(signature)  # the schema puts the signature right after the Issuer
        reference = xmlsec.template.add_reference(
            signature, _C.TransformSha256, uri="#" + root.get("ID")
        )
        xmlsec.template.add_transform(reference, _C.TransformEnveloped)
        xmlsec.template.add_transform(reference, _C.TransformExclC14N)
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_memory(_signing_key_pem(config), _C.KeyDataFormatPem, None)
        context.register_id(root, "ID")
        context.sign(signature)
    except xmlsec.Error as exc:
        raise refuse("saml.sign_failed", f"the logout message could not be signed: {exc}") from exc
    return bytes(etree.tostring(root, encoding="UTF-8"))


def _message(tag: str, destination: str, config: ServiceProviderConfig, now: datetime) -> Any:
    root = etree.Element(
        f"{{{SAMLP_NS}}}{tag}",
        {"ID": new_id(), "Version": "2.0", "IssueInstant": format_instant(now)},
        nsmap={"samlp": SAMLP_NS, "saml": SAML_NS},
    )
    root.set("Destination", destination)
    etree.SubElement(root, f"{{{SAML_NS}}}Issuer").text = config.entity_id
    return root


def logout_request_post(
    config: ServiceProviderConfig,
    post_url: str,
    name_id: str,
    *,
    request_store: RequestStore,
    now: datetime,
    session_index: str | None = None,
    name_id_format: str | None = None,
) -> tuple[str, str]:
    """A signed LogoutRequest for the IdP's HTTP-POST SLO endpoint ``post_url``, recorded
    as pending as :func:`~sso_bridge.saml.requests.build_logout_request` records its own:
    the ``SAMLRequest`` form value and the request's ID."""
    root = _message("LogoutRequest", post_url, config, now)
    name = etree.SubElement(root, f"{{{SAML_NS}}}NameID")
    name.set("Format", name_id_format or NAMEID_TRANSIENT)
    name.text = name_id
    if session_index is not None:
        etree.SubElement(root, f"{{{SAMLP_NS}}}SessionIndex").text = session_index
    request_id = str(root.get("ID"))
    encoded = encode_post(_sign(root, config))
    request_store.add(LOGOUT_KEY_PREFIX + request_id, now + config.request_lifetime)
    return encoded, request_id


def _parse(
    params: Mapping[str, str],
    config: ServiceProviderConfig,
    binding: str,
    query_string: str | None,
) -> Any:
    encoded = params.get("SAMLRequest")
    if not encoded:
        raise SamlLogoutError("SAMLRequest is missing", code="saml.not_a_request")
    if binding == "redirect":
        return signed_redirect_root("SAMLRequest", params, encoded, config, query_string)
    if binding == "post":
        limit = config.max_response_bytes
        root = parse_xml(decode_post(encoded, limit), max_bytes=limit, limits=config.xml_limits)
        if root.find("ds:Signature", NS) is None:
            raise refuse("saml.unsigned", "the LogoutRequest is not signed")
        if root.tag != _REQUEST_TAG:
            raise SamlLogoutError("the message is not a LogoutRequest", code="saml.not_a_request")
        verify_element(root, config.idp_certificates, min_rsa_bits=config.min_rsa_key_bits)
        return root
    raise SamlInputError(
        f"unknown binding {binding!r}; use 'redirect' or 'post'", code="saml.unknown_binding"
    )


def _check_times(root: Any, config: ServiceProviderConfig, now: datetime) -> datetime:
    """Check IssueInstant and NotOnOrAfter; until when the request's ID is remembered."""
    issued = parse_instant(root.get("IssueInstant"), "IssueInstant")
    if issued > now + config.skew:
        raise refuse("saml.not_yet_valid", "the LogoutRequest was issued in the future")
    until = issued + config.request_lifetime + config.skew
    if now >= until:
        raise refuse("saml.expired", "the LogoutRequest is too old")
    if root.get("NotOnOrAfter") is not None:
        limit = parse_instant(root.get("NotOnOrAfter"), "NotOnOrAfter")
        if now >= limit + config.skew:
            raise refuse("saml.expired", "the LogoutRequest's NotOnOrAfter has passed")
    return until


def read_logout_request(
    params: Mapping[str, str],
    config: ServiceProviderConfig,
    *,
    binding: str,
    replay_cache: ReplayCache,
    now: datetime,
    query_string: str | None = None,
) -> IncomingLogout:
    """Check the IdP's LogoutRequest (``params``: the query for ``"redirect"``, its
    signature over ``query_string`` when given; the form for ``"post"``). Raises
    :class:`~sso_bridge.saml.errors.SamlError`: ``saml.unsigned``,
    ``saml.signature_invalid``, ``saml.not_a_request``, ``saml.wrong_issuer``,
    ``saml.wrong_destination``, ``saml.expired``, ``saml.not_yet_valid``,
    ``saml.replayed``, ``saml.no_name_id`` among others."""
    root = _parse(params, config, binding, query_string)
    if root.tag != _REQUEST_TAG:
        raise SamlLogoutError("the message is not a LogoutRequest", code="saml.not_a_request")
    if root.get("Version") != "2.0":
        raise refuse("saml.bad_version", "only SAML 2.0 is accepted")
    request_id = require_ncname(root.get("ID"), "the LogoutRequest")
    issuers = root.findall("saml:Issuer", NS)
    if len(issuers) != 1 or element_text(issuers[0]).strip() != config.idp_entity_id:
        raise refuse("saml.wrong_issuer", "the LogoutRequest is not from the configured IdP")
    if not config.slo_url or root.get("Destination") != config.slo_url:
        raise refuse("saml.wrong_destination", "the LogoutRequest is addressed elsewhere")
    until = _check_times(root, config, now)
    names = root.findall("saml:NameID", NS)
    if len(names) != 1 or not element_text(names[0]).strip():
        raise SamlLogoutError("the LogoutRequest names no NameID", code="saml.no_name_id")
    indexes = tuple(
        element_text(e).strip() for e in root.findall("samlp:SessionIndex", NS) if element_text(e)
    )
    if not replay_cache.add_if_new("logout-request " + request_id, until, now):
        raise refuse("saml.replayed", "this LogoutRequest was already received")
    relay_state = params.get("RelayState") or None
    kind: Binding = "redirect" if binding == "redirect" else "post"
    return IncomingLogout(request_id, element_text(names[0]).strip(), indexes, relay_state, kind)


def logout_response(
    config: ServiceProviderConfig,
    incoming: IncomingLogout,
    *,
    now: datetime,
    post_url: str | None = None,
    status: str = STATUS_SUCCESS,
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The signed LogoutResponse to ``incoming``, over its own binding: a Redirect URL to the
    IdP's ``idp_slo_url`` (fields empty), or, for a POSTed request, the URL and form fields
    to POST to ``post_url`` (the IdP's HTTP-POST SLO endpoint; over Redirect when None)."""
    post = incoming.binding == "post" and post_url is not None
    destination = post_url if post and post_url is not None else config.idp_slo_url
    if not destination or not config.slo_url:
        raise SamlLogoutError(
            "single logout needs the IdP's SLO URL and this SP's slo_url", code="saml.no_slo"
        )
    root = _message("LogoutResponse", destination, config, now)
    root.set("InResponseTo", incoming.request_id)
    status_element = etree.SubElement(root, f"{{{SAMLP_NS}}}Status")
    etree.SubElement(status_element, f"{{{SAMLP_NS}}}StatusCode").set("Value", status)
    if post:
        fields = [("SAMLResponse", encode_post(_sign(root, config)))]
        if incoming.relay_state is not None:
            fields.append(("RelayState", incoming.relay_state))
        return destination, tuple(fields)
    xml = etree.tostring(root, encoding="UTF-8")
    key = config.signing_key()
    if key is None:
        raise SamlConfigError("no signing key is configured", code="saml.bad_config")
    return redirect_query(destination, "SAMLResponse", xml, incoming.relay_state, key), ()
