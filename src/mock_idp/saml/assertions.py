"""Building, signing and encrypting what the SAML IdP sends: the assertion with ESIA's
attributes, and the Response around it (each of a test's faults is one defect here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]
from saml2 import saml, samlp
from saml2.sigver import pre_signature_part

from mock_idp.saml.documents import (
    ASSERTION_NODE,
    ASSERTION_NS,
    PROTOCOL_NS,
    RESPONSE_NODE,
    certificate_pem,
    document,
    element_bytes,
    parse_own,
)
from mock_idp.saml.faults import FAULT_TIME_SHIFT, SamlFault
from mock_idp.saml.keys import SamlSigningKey
from mock_idp.saml.model import ServiceProvider
from mock_idp.users import ContactType, Person, SecondFactor
from sso_bridge.integrations.pysaml2 import RSA_SHA256, SHA256, XmlSecBackend
from sso_bridge.saml.xml import SAML_NS, format_instant, new_id

__all__ = [
    "MessageSigner",
    "build_assertion",
    "esia_attributes",
    "issuer",
    "success_response",
]


def esia_attributes(person: Person) -> dict[str, list[str]]:
    """The person's SAML attributes by ESIA name; absent values are left out.

    Contacts are sent only when verified. ``trusted`` is ``"true"`` for a confirmed account.
    """
    values: dict[str, list[str]] = {
        "userId": [str(person.oid)],
        "lastName": [person.last_name],
        "firstName": [person.first_name],
        "middleName": [person.middle_name] if person.middle_name else [],
        "birthDate": [person.birth_date],
        "gender": [person.gender.value],
        "personSNILS": [person.snils] if person.snils else [],
        "trusted": ["true" if person.trusted else "false"],
        "personEMail": [
            c.value for c in person.contacts if c.verified and c.type is ContactType.EMAIL
        ],
        "personMobilePhone": [
            c.value for c in person.contacts if c.verified and c.type is ContactType.MOBILE
        ],
    }
    return {name: value for name, value in values.items() if value}


_CLASSES = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
AUTHN_CONTEXT_CLASSES: Final = {
    SecondFactor.SMS: _CLASSES + "MobileTwoFactorContract",
    SecondFactor.TOTP: _CLASSES + "TimeSyncToken",
}
"""The ``AuthnContextClassRef`` of a login: every login here is a password and then the
person's second factor (a code by SMS, or from an authenticator app), so a two-factor
class, as the relying party's second-factor policy reads it."""


def issuer(entity_id: str) -> Any:
    """The ``Issuer`` element of every message the IdP ``entity_id`` makes."""
    return saml.Issuer(format=saml.NAMEID_FORMAT_ENTITY, text=entity_id)


def build_assertion(
    *,
    idp_entity_id: str,
    person: Person,
    sp: ServiceProvider,
    acs_url: str,
    in_response_to: str | None,
    name_id: str,
    now: datetime,
    lifetime: timedelta,
    faults: frozenset[SamlFault],
    authn_instant: datetime | None = None,
    session_index: str | None = None,
) -> Any:
    """The (unsigned) assertion that ``person`` logged in, for ``sp`` at ``acs_url``;
    ``authn_instant`` and ``session_index`` are the IdP session's (now and a new id when
    None)."""
    not_before, not_on_or_after, confirmation_until = _validity(now, lifetime, faults)
    audience = sp.entity_id + "/other" if SamlFault.WRONG_AUDIENCE in faults else sp.entity_id
    recipient = acs_url + "/other" if SamlFault.WRONG_RECIPIENT in faults else acs_url
    return saml.Assertion(
        id=new_id(),
        version="2.0",
        issue_instant=format_instant(now),
        issuer=issuer(idp_entity_id),
        subject=_subject(idp_entity_id, sp, name_id, in_response_to, recipient, confirmation_until),
        conditions=saml.Conditions(
            not_before=format_instant(not_before),
            not_on_or_after=format_instant(not_on_or_after),
            audience_restriction=[
                saml.AudienceRestriction(audience=[saml.Audience(text=audience)])
            ],
        ),
        authn_statement=[_authn_statement(person, authn_instant or now, session_index)],
        attribute_statement=[_attribute_statement(person)],
    )


def _validity(
    now: datetime, lifetime: timedelta, faults: frozenset[SamlFault]
) -> tuple[datetime, datetime, datetime]:
    """NotBefore, NotOnOrAfter and the confirmation's NotOnOrAfter, as ``faults`` bend them."""
    not_before, not_on_or_after = now, now + lifetime
    confirmation_until = not_on_or_after
    if SamlFault.EXPIRED in faults:
        confirmation_until = not_on_or_after = now - FAULT_TIME_SHIFT
        not_before = not_on_or_after - lifetime
    if SamlFault.NOT_YET_VALID in faults:
        not_before = now + FAULT_TIME_SHIFT
        not_on_or_after = not_before + lifetime
    return not_before, not_on_or_after, confirmation_until


def _subject(
    idp_entity_id: str,
    sp: ServiceProvider,
    name_id: str,
    in_response_to: str | None,
    recipient: str,
    confirmation_until: datetime,
) -> Any:
    return saml.Subject(
        name_id=saml.NameID(
            format=saml.NAMEID_FORMAT_TRANSIENT,
            name_qualifier=idp_entity_id,
            sp_name_qualifier=sp.entity_id,
            text=name_id,
        ),
        subject_confirmation=[
            saml.SubjectConfirmation(
                method=saml.SCM_BEARER,
                subject_confirmation_data=saml.SubjectConfirmationData(
                    in_response_to=in_response_to,
                    recipient=recipient,
                    not_on_or_after=format_instant(confirmation_until),
                ),
            )
        ],
    )


def _authn_statement(person: Person, authn_instant: datetime, session_index: str | None) -> Any:
    return saml.AuthnStatement(
        authn_instant=format_instant(authn_instant),
        session_index=session_index or new_id(),
        authn_context=saml.AuthnContext(
            authn_context_class_ref=saml.AuthnContextClassRef(
                text=AUTHN_CONTEXT_CLASSES[person.second_factor]
            )
        ),
    )


def _attribute_statement(person: Person) -> Any:
    return saml.AttributeStatement(
        attribute=[
            saml.Attribute(
                name=name,
                name_format=saml.NAME_FORMAT_BASIC,
                friendly_name=name,
                attribute_value=[_attribute_value(v) for v in values],
            )
            for name, values in esia_attributes(person).items()
        ]
    )


def success_response(
    idp_entity_id: str, in_response_to: str | None, now: datetime, destination: str
) -> Any:
    """The (unsigned, empty) successful Response of a login, for ``destination``."""
    return samlp.Response(
        id=new_id(),
        in_response_to=in_response_to,
        version="2.0",
        issue_instant=format_instant(now),
        destination=destination,
        issuer=issuer(idp_entity_id),
        status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
    )


class MessageSigner:
    """Signs (RSA-SHA256, one enveloped reference) and encrypts with ``backend``."""

    def __init__(self, backend: XmlSecBackend) -> None:
        self.backend = backend

    def template(self, element_id: str, key: SamlSigningKey) -> Any:
        """pysaml2's signature template for the element ``element_id``, signed by ``key``."""
        return pre_signature_part(
            element_id, key.certificate_body(), sign_alg=RSA_SHA256, digest_alg=SHA256
        )

    def sign(self, xml: bytes, node_name: str, node_id: str, key: SamlSigningKey) -> bytes:
        """``xml`` with the element ``node_id`` (of pysaml2's ``node_name``) signed."""
        return self.backend.sign_statement(xml, node_name, key.key_pem(), node_id).encode("utf-8")

    def assertion_bytes(self, assertion: Any, key: SamlSigningKey | None) -> bytes:
        """The assertion serialized, signed by ``key`` unless None (no declaration)."""
        if key is not None:
            assertion.signature = self.template(assertion.id, key)
        xml = document(assertion.to_string_force_namespace(ASSERTION_NS))
        if key is not None:
            xml = self.sign(xml, ASSERTION_NODE, assertion.id, key)
        return element_bytes(parse_own(xml))

    def seal(
        self,
        response: Any,
        assertion_xml: bytes | None,
        sp: ServiceProvider,
        key: SamlSigningKey | None,
    ) -> bytes:
        """Put the (signed) assertion into ``response``, encrypt it if the SP wants that,
        then sign the response with ``key`` (unless None)."""
        if key is not None:
            response.signature = self.template(response.id, key)
        root = parse_own(document(response.to_string_force_namespace(PROTOCOL_NS)))
        if assertion_xml is not None:
            assertion = parse_own(assertion_xml)
            if sp.encrypt_assertions and sp.encryption_certificate:
                wrapper = etree.SubElement(root, f"{{{SAML_NS}}}EncryptedAssertion")
                wrapper.append(assertion)
                xml = self.backend.encrypt_assertion(
                    element_bytes(root, declaration=True),
                    certificate_pem(sp.encryption_certificate),
                    None,
                )
                root = parse_own(xml.encode("utf-8"))
            else:
                root.append(assertion)
        xml_bytes = element_bytes(root, declaration=True)
        if key is None:
            return xml_bytes
        return self.sign(xml_bytes, RESPONSE_NODE, response.id, key)


def _attribute_value(value: str) -> Any:
    attribute_value = saml.AttributeValue()
    attribute_value.set_text(value)  # typed xs:string
    return attribute_value
