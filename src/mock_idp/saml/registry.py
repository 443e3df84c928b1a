"""Service providers as the SAML IdP knows them: read from their metadata (checked by the
library's parser first, then loaded by pysaml2), or metadata made from a few settings."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from saml2 import md, saml, samlp
from saml2 import xmldsig as ds
from saml2.mdstore import InMemoryMetaData

from mock_idp.saml.documents import METADATA_NS, certificate, document
from mock_idp.saml.errors import bad_metadata, one_line, reason
from mock_idp.saml.model import (
    MAX_METADATA_BYTES,
    SLO_PATHS,
    Endpoint,
    ServiceProvider,
    is_true,
)
from sso_bridge.saml.codec import BINDING_POST
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.xml import METADATA_LIMITS, parse_xml

__all__ = ["read_metadata", "settings_metadata"]


def read_metadata(
    data: bytes,
    attribute_converters: Any,
    *,
    encrypt_assertions: bool,
    want_signed_requests: bool | None,
) -> tuple[ServiceProvider, InMemoryMetaData]:
    """The one service provider described by ``data`` and pysaml2's store of it.

    Raises ``InvalidInput`` (code ``saml.bad_metadata``).
    """
    try:
        parse_xml(data, max_bytes=MAX_METADATA_BYTES, limits=METADATA_LIMITS)
    except SamlError as exc:
        raise bad_metadata(reason(exc)) from None
    store = InMemoryMetaData(attribute_converters, data.decode("utf-8"))
    try:
        store.load()
    except Exception as exc:  # pysaml2 raises many kinds while reading metadata
        raise bad_metadata(f"metadata does not parse: {one_line(exc)}") from None
    entity_ids = [eid for eid, entity in store.items() if entity.get("spsso_descriptor")]
    if len(entity_ids) != 1:
        raise bad_metadata(
            f"expected one service provider in the metadata, found {len(entity_ids)}"
        )
    sp = _service_provider(store, str(entity_ids[0]), encrypt_assertions, want_signed_requests)
    return sp, store


def settings_metadata(
    entity_id: str,
    acs_url: str | Sequence[str],
    *,
    certificate_pem: str | bytes | None,
    slo_url: str | None,
    want_signed_requests: bool,
) -> bytes:
    """Metadata of a service provider that has none of its own (see
    :meth:`mock_idp.saml.SamlIdP.register_sp_settings`)."""
    urls = [acs_url] if isinstance(acs_url, str) else list(acs_url)
    if not urls:
        raise bad_metadata("at least one ACS URL is needed")
    key_descriptors = [] if certificate_pem is None else [_key_descriptor(certificate_pem)]
    logout = [
        md.SingleLogoutService(binding=binding, location=slo_url)
        for binding in SLO_PATHS
        if slo_url
    ]
    descriptor = md.EntityDescriptor(
        entity_id=entity_id,
        spsso_descriptor=[
            md.SPSSODescriptor(
                protocol_support_enumeration=samlp.NAMESPACE,
                authn_requests_signed="true" if want_signed_requests else "false",
                want_assertions_signed="true",
                key_descriptor=key_descriptors,
                single_logout_service=logout,
                name_id_format=[md.NameIDFormat(text=saml.NAMEID_FORMAT_TRANSIENT)],
                assertion_consumer_service=[
                    md.AssertionConsumerService(
                        binding=BINDING_POST,
                        location=url,
                        index=str(index),
                        is_default="true" if index == 0 else None,
                    )
                    for index, url in enumerate(urls)
                ],
            )
        ],
    )
    return document(descriptor.to_string_force_namespace(METADATA_NS))


def _key_descriptor(certificate_pem: str | bytes) -> Any:
    pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
    try:
        loaded = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise bad_metadata(f"bad certificate: {one_line(exc)}") from None
    body = base64.b64encode(loaded.public_bytes(serialization.Encoding.DER)).decode()
    return md.KeyDescriptor(
        key_info=ds.KeyInfo(x509_data=[ds.X509Data(x509_certificate=ds.X509Certificate(text=body))])
    )


def _service_provider(
    store: Any, entity_id: str, encrypt_assertions: bool, want_signed_requests: bool | None
) -> ServiceProvider:
    def endpoints(service: str, binding: str) -> list[Endpoint]:
        found = store.service(entity_id, "spsso_descriptor", service, binding) or []
        return [
            Endpoint(
                binding=binding,
                location=str(s["location"]),
                response_location=s.get("response_location"),
                index=int(s["index"]) if str(s.get("index", "")).isdigit() else None,
                is_default=is_true(s.get("is_default")),
            )
            for s in found
        ]

    acs = endpoints("assertion_consumer_service", BINDING_POST)
    if not acs:
        raise bad_metadata(f"{entity_id} has no HTTP-POST AssertionConsumerService")
    logout = [e for b in SLO_PATHS for e in endpoints("single_logout_service", b)]
    signing = [
        _certificate_body(entity_id, c) for _, c in store.certs(entity_id, "spsso", "signing")
    ]
    encryption = [
        _certificate_body(entity_id, c) for _, c in store.certs(entity_id, "spsso", "encryption")
    ]
    if encrypt_assertions and not encryption:
        raise bad_metadata(f"{entity_id} has no encryption certificate")
    if want_signed_requests is None:
        descriptors = store[entity_id]["spsso_descriptor"]
        want_signed_requests = any(is_true(d.get("authn_requests_signed")) for d in descriptors)
    return ServiceProvider(
        entity_id=entity_id,
        assertion_consumer_services=tuple(acs),
        logout_services=tuple(logout),
        signing_certificates=tuple(signing),
        encryption_certificate=encryption[0] if encryption else None,
        want_signed_requests=want_signed_requests,
        encrypt_assertions=encrypt_assertions,
    )


def _certificate_body(entity_id: str, text: object) -> str:
    """A metadata certificate as one line of base64 DER; refused unless it parses."""
    body = "".join(str(text).split())
    try:
        certificate(body)
    except ValueError as exc:
        raise bad_metadata(f"{entity_id} has a bad certificate: {one_line(exc)}") from None
    return body
