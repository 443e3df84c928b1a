"""Incoming SAML requests: decoded by the library's codec, parsed by its safe parser, their
signatures checked against the service provider's metadata only, then read by pysaml2."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from saml2 import samlp
from saml2.validate import valid_instance

from mock_idp.saml.documents import certificate
from mock_idp.saml.errors import SamlRequestError, one_line, refused
from mock_idp.saml.model import MAX_MESSAGE_BYTES, AuthnRequestInfo, ServiceProvider, is_true
from sso_bridge.saml.codec import (
    BINDING_POST,
    BINDING_REDIRECT,
    decode_post,
    decode_redirect,
    verify_redirect_signature,
)
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.verify import verify_enveloped
from sso_bridge.saml.xml import DS_NS, SAMLP_NS, parse_instant, parse_xml

__all__ = ["authn_request_info", "check_destination", "receive"]

_REQUEST_PARSERS: Final = {
    "AuthnRequest": samlp.authn_request_from_string,
    "LogoutRequest": samlp.logout_request_from_string,
}


def receive(
    binding: str,
    params: Mapping[str, str],
    query_string: str | None,
    kind: str,
    service_provider: Callable[[str], ServiceProvider],
) -> tuple[Any, ServiceProvider, bool]:
    """Decode, parse and check the issuer and signature of a request of type ``kind``.

    ``service_provider`` looks the issuer up (``saml.unknown_sp`` when unknown). Returns
    pysaml2's message, the service provider and whether the request was signed.
    """
    encoded = params.get("SAMLRequest")
    if not encoded:
        raise SamlRequestError("SAMLRequest is missing", code="saml.bad_request")
    try:
        if binding == BINDING_REDIRECT:
            xml = decode_redirect(encoded, MAX_MESSAGE_BYTES)
        else:
            xml = decode_post(encoded, MAX_MESSAGE_BYTES)
        root = parse_xml(xml, max_bytes=MAX_MESSAGE_BYTES)
    except SamlError as exc:
        raise refused(exc, "saml.bad_request") from None
    if root.tag != f"{{{SAMLP_NS}}}{kind}":
        raise SamlRequestError(f"expected a {kind}", code="saml.bad_request")
    try:  # range-checked here: pysaml2 below only checks the form
        parse_instant(root.get("IssueInstant"), f"the {kind}'s IssueInstant")
    except SamlError as exc:
        raise refused(exc, "saml.bad_request") from None
    try:
        message = _REQUEST_PARSERS[kind](xml)
        valid_instance(message)
    except Exception as exc:  # pysaml2 raises many kinds on invalid content
        raise SamlRequestError(
            f"invalid {kind}: {one_line(exc)}", code="saml.bad_request"
        ) from None
    if message.version != "2.0":
        raise SamlRequestError("only SAML 2.0 is spoken here", code="saml.bad_request")
    issuer = "" if message.issuer is None else (message.issuer.text or "").strip()
    if not issuer:
        raise SamlRequestError(f"the {kind} names no Issuer", code="saml.bad_request")
    sp = service_provider(issuer)
    signed = _check_request_signature(binding, params, query_string, root, sp)
    return message, sp, signed


def check_destination(request: Any, endpoint_url: str) -> None:
    """A request's ``Destination``, when it names one, must be the endpoint it came to."""
    if request.destination and request.destination != endpoint_url:
        raise SamlRequestError(
            f"Destination {request.destination!r} is not this endpoint",
            code="saml.bad_destination",
        )


def authn_request_info(
    binding: str,
    params: Mapping[str, str],
    request: Any,
    sp: ServiceProvider,
    signed: bool,
) -> AuthnRequestInfo:
    """What the login response needs of an AuthnRequest; the ACS must be one of the SP's."""
    if request.protocol_binding and request.protocol_binding != BINDING_POST:
        raise SamlRequestError(
            f"responses are sent over HTTP-POST only, not {request.protocol_binding}",
            code="saml.unsupported_binding",
        )
    acs_url = _chosen_acs(sp, request)
    policy = request.name_id_policy
    return AuthnRequestInfo(
        id=request.id,
        sp_entity_id=sp.entity_id,
        acs_url=acs_url,
        binding=binding,
        relay_state=params.get("RelayState"),
        force_authn=is_true(request.force_authn),
        is_passive=is_true(request.is_passive),
        name_id_format=None if policy is None else policy.format,
        signed=signed,
    )


def _chosen_acs(sp: ServiceProvider, request: Any) -> str:
    url = request.assertion_consumer_service_url
    index = request.assertion_consumer_service_index
    if url:
        if url not in {s.location for s in sp.assertion_consumer_services}:
            raise SamlRequestError(
                f"{url!r} is not an HTTP-POST ACS of {sp.entity_id}", code="saml.bad_acs"
            )
        return str(url)
    if index is not None:
        for service in sp.assertion_consumer_services:
            if service.index is not None and str(service.index) == str(index).strip():
                return service.location
        raise SamlRequestError(f"{sp.entity_id} has no ACS with index {index}", code="saml.bad_acs")
    return sp.default_acs.location


def _check_request_signature(
    binding: str,
    params: Mapping[str, str],
    query_string: str | None,
    root: Any,
    sp: ServiceProvider,
) -> bool:
    """Whether the request was signed; ``saml.bad_request_signature`` when a signature is
    missing but required, or present and not made by one of the SP's metadata keys under
    the library's checks (the SAML signature profile for an enveloped signature)."""
    if binding == BINDING_REDIRECT:
        signed = "Signature" in params or "SigAlg" in params
    else:
        signed = root.find(f"{{{DS_NS}}}Signature") is not None
    if not signed:
        if sp.want_signed_requests:
            raise SamlRequestError(
                f"{sp.entity_id} must sign its requests", code="saml.bad_request_signature"
            )
        return False
    certificates = [certificate(body) for body in sp.signing_certificates]
    if not certificates:
        raise SamlRequestError(
            "the service provider's metadata has no signing certificate",
            code="saml.bad_request_signature",
        )
    try:
        if binding == BINDING_REDIRECT:
            verify_redirect_signature("SAMLRequest", params, query_string, certificates)
        else:
            verify_enveloped(root, root.get("ID") or "", certificates)
    except SamlError as exc:
        raise refused(exc, "saml.bad_request_signature") from None
    return True
