"""Reading an IdP's SAML metadata: its signing certificates and its endpoints."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography import x509

from sso_bridge.saml.codec import BINDING_REDIRECT
from sso_bridge.saml.errors import SamlConfigError, SamlError
from sso_bridge.saml.xml import MD_NS, METADATA_LIMITS, NS, parse_xml

__all__ = ["idp_certificates_from_metadata", "idp_endpoints_from_metadata"]


def _metadata_entities(metadata_xml: str | bytes, entity_id: str) -> list[Any]:
    """The EntityDescriptors for ``entity_id`` in safely parsed metadata."""
    data = metadata_xml.encode("utf-8") if isinstance(metadata_xml, str) else metadata_xml
    try:
        root = parse_xml(data, max_bytes=max(len(data), 1), limits=METADATA_LIMITS)
    except SamlError as exc:
        raise SamlConfigError(
            f"IdP metadata refused: {exc.message}", code="saml.bad_metadata"
        ) from None
    entities = [root] if root.tag == f"{{{MD_NS}}}EntityDescriptor" else []
    entities += root.findall(".//md:EntityDescriptor", NS)
    return [entity for entity in entities if entity.get("entityID") == entity_id]


def idp_certificates_from_metadata(
    metadata_xml: str | bytes, idp_entity_id: str
) -> tuple[x509.Certificate, ...]:
    """The signing certificates of ``idp_entity_id``'s IDPSSODescriptor in its metadata.

    KeyDescriptors without ``use`` count as signing keys. Raises ``ConfigError`` when the
    metadata does not parse or names no signing certificate for the entity.
    """
    entities = _metadata_entities(metadata_xml, idp_entity_id)
    bodies = [
        text
        for entity in entities
        for descriptor in entity.findall("md:IDPSSODescriptor/md:KeyDescriptor", NS)
        if descriptor.get("use") in (None, "signing")
        for text in descriptor.xpath(
            "ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS
        )
    ]
    certificates = []
    for body in bodies:
        try:
            der = base64.b64decode("".join(str(body).split()), validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error) as exc:
            raise SamlConfigError(
                f"bad certificate in the IdP metadata: {exc}", code="saml.bad_metadata"
            ) from None
    if not certificates:
        raise SamlConfigError(
            f"the metadata has no signing certificate for {idp_entity_id}",
            code="saml.bad_metadata",
        )
    return tuple(certificates)


def idp_endpoints_from_metadata(
    metadata_xml: str | bytes, idp_entity_id: str
) -> tuple[str | None, str | None]:
    """The HTTP-Redirect SingleSignOnService and SingleLogoutService URLs of
    ``idp_entity_id`` in its metadata (None where it has none)."""
    entities = _metadata_entities(metadata_xml, idp_entity_id)

    def location(service: str) -> str | None:
        for entity in entities:
            for endpoint in entity.findall(f"md:IDPSSODescriptor/md:{service}", NS):
                if endpoint.get("Binding") == BINDING_REDIRECT and endpoint.get("Location"):
                    return str(endpoint.get("Location"))
        return None

    return location("SingleSignOnService"), location("SingleLogoutService")
