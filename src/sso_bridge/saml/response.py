"""Checking a login Response from the IdP (HTTP-POST binding).

:func:`process_response` turns the ``SAMLResponse`` form field into a :class:`LoginResult`
(the :class:`~sso_bridge.model.FederatedIdentity` and what caps the session), or refuses
it with a :class:`~sso_bridge.saml.errors.SamlError` whose ``code`` says why. The
assertion must be signed by a key of the configured IdP metadata, must answer a request
this service provider sent (unless IdP-initiated login is enabled), and is accepted once.
Every value is read from the verified assertion element only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from sso_bridge.clock import Clock
from sso_bridge.matching.normalize import parse_date_or_none
from sso_bridge.model import FederatedIdentity
from sso_bridge.saml.codec import decode_post
from sso_bridge.saml.config import ESIA_ATTRIBUTE_NAMES, ServiceProviderConfig
from sso_bridge.saml.encryption import decrypt_assertion
from sso_bridge.saml.errors import refuse
from sso_bridge.saml.stores import ReplayCache, RequestStore
from sso_bridge.saml.verify import verify_element
from sso_bridge.saml.xml import (
    DS_NS,
    NS,
    SAML_NS,
    SAMLP_NS,
    element_text,
    parse_instant,
    parse_xml,
    require_ncname,
)

__all__ = ["LoginResult", "identity_from_attributes", "process_response"]

STATUS_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

# Tags in Clark notation, looked up among an element's children: lxml finds them without
# the namespace-map handling and path compilation a prefixed ``findall`` path costs.
_RESPONSE: Final = f"{{{SAMLP_NS}}}Response"
_STATUS: Final = f"{{{SAMLP_NS}}}Status"
_STATUS_CODE: Final = f"{{{SAMLP_NS}}}StatusCode"
_ASSERTION: Final = f"{{{SAML_NS}}}Assertion"
_ENCRYPTED_ASSERTION: Final = f"{{{SAML_NS}}}EncryptedAssertion"
_ISSUER: Final = f"{{{SAML_NS}}}Issuer"
_SUBJECT: Final = f"{{{SAML_NS}}}Subject"
_NAME_ID: Final = f"{{{SAML_NS}}}NameID"
_CONFIRMATION: Final = f"{{{SAML_NS}}}SubjectConfirmation"
_CONFIRMATION_DATA: Final = f"{{{SAML_NS}}}SubjectConfirmationData"
_CONDITIONS: Final = f"{{{SAML_NS}}}Conditions"
_AUDIENCE_RESTRICTION: Final = f"{{{SAML_NS}}}AudienceRestriction"
_AUDIENCE: Final = f"{{{SAML_NS}}}Audience"
_AUTHN_STATEMENT: Final = f"{{{SAML_NS}}}AuthnStatement"
_AUTHN_CONTEXT: Final = f"{{{SAML_NS}}}AuthnContext"
_CLASS_REF: Final = f"{{{SAML_NS}}}AuthnContextClassRef"
_ATTRIBUTE_STATEMENT: Final = f"{{{SAML_NS}}}AttributeStatement"
_ATTRIBUTE: Final = f"{{{SAML_NS}}}Attribute"
_ATTRIBUTE_VALUE: Final = f"{{{SAML_NS}}}AttributeValue"
_SIGNATURE: Final = f"{{{DS_NS}}}Signature"


@attrs.frozen
class LoginResult:
    """An accepted SAML login.

    ``session_not_on_or_after`` is the IdP's ``SessionNotOnOrAfter`` (the earliest, when
    several AuthnStatements give one): no session may outlive it. ``session_index`` is
    for single logout; ``authn_context`` is the class reference of the authentication,
    e.g. to tell whether the IdP already ran a second factor. ``idp_initiated`` is true
    for a response that answers no request of ours (accepted only when enabled): such a
    login must never create or change a link. ``in_response_to`` is the ID of our request
    that it answers, for a caller that binds requests to a browser.
    """

    identity: FederatedIdentity
    name_id: str
    idp_initiated: bool = False
    session_not_on_or_after: datetime | None = None
    session_index: str | None = None
    authn_context: str | None = None
    authn_instant: datetime | None = None
    in_response_to: str | None = None


def process_response(
    saml_response: str | bytes,
    config: ServiceProviderConfig,
    *,
    request_store: RequestStore,
    replay_cache: ReplayCache,
    clock: Clock,
) -> LoginResult:
    """Check a base64 ``SAMLResponse`` and return the login its assertion asserts.

    Raises :class:`SamlError` with a stable ``code``; nothing is consumed or recorded unless
    the signatures verify."""
    now = clock.now()
    limit = config.max_response_bytes
    root = parse_xml(decode_post(saml_response, limit), max_bytes=limit, limits=config.xml_limits)
    if root.tag != _RESPONSE:
        raise refuse("saml.not_a_response", "the message is not a SAML Response")
    if root.get("Version") != "2.0":
        raise refuse("saml.bad_version", "only SAML 2.0 is accepted")
    if config.want_signed_response or root.find(_SIGNATURE) is not None:
        _verify(root, config)
    if root.get("Destination") != config.acs_url:
        raise refuse("saml.wrong_destination", "the Response is addressed elsewhere")
    _check_issuer(root, config, required=False)
    codes = _grandchildren(root, _STATUS, _STATUS_CODE)
    if not codes or codes[0].get("Value") != STATUS_SUCCESS:
        raise refuse("saml.status_not_success", _failure_reported(root))

    assertion = _verified_assertion(root, config)
    if assertion.get("Version") != "2.0":
        raise refuse("saml.bad_version", "only SAML 2.0 assertions are accepted")
    _check_issuer(assertion, config, required=True)
    in_response_to = root.get("InResponseTo")
    confirmed_until, name_id = _check_subject(assertion, config, in_response_to, now)
    not_on_or_after = _check_conditions(assertion, config, now)
    session = _check_authn_statements(assertion, config, now)
    identity = _identity(assertion, config, name_id)

    if in_response_to is None:
        if not config.allow_idp_initiated:
            raise refuse("saml.unsolicited", "IdP-initiated login is not enabled")
    elif not request_store.consume(in_response_to, now):
        raise refuse("saml.in_response_to_mismatch", "the Response answers no pending request")
    expires_at = max(not_on_or_after, confirmed_until) + config.skew
    if not replay_cache.add_if_new(_required_id(assertion, "the assertion"), expires_at, now):
        raise refuse("saml.replayed", "this assertion was accepted before")
    return LoginResult(
        identity, name_id, in_response_to is None, in_response_to=in_response_to, **session
    )


def _child(parent: Any, tag: str) -> Any:
    """The first child of ``parent`` called ``tag`` (None: none)."""
    return next(parent.iterchildren(tag), None)


def _children(parent: Any, tag: str) -> list[Any]:
    return list(parent.iterchildren(tag))


def _grandchildren(parent: Any, tag: str, child_tag: str) -> list[Any]:
    """The ``child_tag`` children of the ``tag`` children (``findall("tag/child_tag")``)."""
    return [node for child in parent.iterchildren(tag) for node in child.iterchildren(child_tag)]


def _required_id(element: Any, what: str) -> str:
    return require_ncname(element.get("ID"), what)


def _verify(element: Any, config: ServiceProviderConfig) -> Any:
    return verify_element(element, config.idp_certificates, min_rsa_bits=config.min_rsa_key_bits)


def _check_issuer(element: Any, config: ServiceProviderConfig, *, required: bool) -> None:
    issuers = _children(element, _ISSUER)
    if not issuers and not required:
        return
    if len(issuers) != 1 or element_text(issuers[0]).strip() != config.idp_entity_id:
        raise refuse("saml.wrong_issuer", "the message is not from the configured IdP")


def _verified_assertion(root: Any, config: ServiceProviderConfig) -> Any:
    """The one assertion (decrypted if need be), as returned by signature verification."""
    # Counted anywhere in the document: a second assertion is always a wrapping attempt.
    found = list(root.iter(_ASSERTION, _ENCRYPTED_ASSERTION))
    if len(found) != 1:
        raise refuse("saml.assertion_count", f"expected one assertion, found {len(found)}")
    node = found[0]
    if node.getparent() is not root:
        raise refuse("saml.assertion_misplaced", "the assertion is not a child of the Response")
    if node.tag == _ASSERTION:
        return _verify(node, config)
    private_key = config.decryption_key()
    if private_key is None:
        raise refuse("saml.no_decryption_key", "no key is configured to decrypt assertions")
    document = parse_xml(
        decrypt_assertion(node, private_key),
        max_bytes=config.max_response_bytes,
        limits=config.xml_limits,
    )
    if (
        document.tag != f"{{{SAML_NS}}}Assertion"
        or document.find(".//saml:Assertion", NS) is not None
        or document.find(".//saml:EncryptedAssertion", NS) is not None
    ):
        raise refuse("saml.assertion_count", "the encrypted content is not one assertion")
    return _verify(document, config)


def _check_subject(
    assertion: Any, config: ServiceProviderConfig, in_response_to: str | None, now: datetime
) -> tuple[datetime, str]:
    """Check the bearer confirmation; return its NotOnOrAfter and the NameID."""
    name_ids = _grandchildren(assertion, _SUBJECT, _NAME_ID)
    name_id = element_text(name_ids[0]).strip() if len(name_ids) == 1 else ""
    if not name_id:
        raise refuse("saml.no_subject", "the assertion has no NameID")
    qualifier = name_ids[0].get("SPNameQualifier")
    if qualifier is not None and qualifier != config.entity_id:
        raise refuse(
            "saml.wrong_sp_name_qualifier", "the NameID is qualified for another service provider"
        )
    confirmations = [
        c for c in _grandchildren(assertion, _SUBJECT, _CONFIRMATION) if c.get("Method") == BEARER
    ]
    if len(confirmations) != 1:
        raise refuse("saml.no_bearer", "expected one bearer SubjectConfirmation")
    data = _child(confirmations[0], _CONFIRMATION_DATA)
    if data is None:
        raise refuse("saml.no_bearer", "the bearer confirmation has no data")
    if data.get("Recipient") != config.acs_url:
        raise refuse("saml.wrong_recipient", "the assertion is for another recipient")
    if data.get("InResponseTo") != in_response_to:
        raise refuse("saml.in_response_to_mismatch", "the assertion answers another request")
    until = _instant(data.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter")
    if now >= until + config.skew:
        raise refuse("saml.expired", "the bearer confirmation has expired")
    not_before = data.get("NotBefore")
    if not_before is not None and now + config.skew < _instant(not_before, "NotBefore"):
        raise refuse("saml.not_yet_valid", "the bearer confirmation is not valid yet")
    return until, name_id


def _check_conditions(assertion: Any, config: ServiceProviderConfig, now: datetime) -> datetime:
    """Check the time window and audience; return NotOnOrAfter."""
    conditions = _children(assertion, _CONDITIONS)
    if len(conditions) != 1:
        raise refuse("saml.no_conditions", "the assertion has no Conditions")
    condition = conditions[0]
    not_before = condition.get("NotBefore")
    if not_before is not None and now + config.skew < _instant(not_before, "NotBefore"):
        raise refuse("saml.not_yet_valid", "the assertion is not valid yet")
    until = _instant(condition.get("NotOnOrAfter"), "Conditions NotOnOrAfter")
    if now >= until + config.skew:
        raise refuse("saml.expired", "the assertion has expired")
    restrictions = _children(condition, _AUDIENCE_RESTRICTION)
    if not restrictions:
        raise refuse("saml.wrong_audience", "the assertion names no audience")
    for restriction in restrictions:  # each restriction must admit us
        audiences = {element_text(a).strip() for a in restriction.iterchildren(_AUDIENCE)}
        if config.entity_id not in audiences:
            raise refuse("saml.wrong_audience", "the assertion is for another audience")
    return until


def _check_authn_statements(
    assertion: Any, config: ServiceProviderConfig, now: datetime
) -> dict[str, Any]:
    """Require an AuthnStatement; refuse an ended session; return what caps the session."""
    statements = _children(assertion, _AUTHN_STATEMENT)
    if not statements:
        raise refuse("saml.no_authn_statement", "the assertion has no AuthnStatement")
    ends = [
        _instant(value, "SessionNotOnOrAfter")
        for statement in statements
        if (value := statement.get("SessionNotOnOrAfter")) is not None
    ]
    session_end = min(ends, default=None)
    if session_end is not None and now >= session_end + config.skew:
        raise refuse("saml.session_expired", "the IdP session named by the assertion has ended")
    first = statements[0]
    instant = first.get("AuthnInstant")
    references = _grandchildren(first, _AUTHN_CONTEXT, _CLASS_REF)
    return {
        "session_not_on_or_after": session_end,
        "session_index": first.get("SessionIndex"),
        "authn_context": element_text(references[0]).strip() if references else None,
        "authn_instant": None if instant is None else _instant(instant, "AuthnInstant"),
    }


def _instant(value: str | None, what: str) -> datetime:
    return parse_instant(value, what)


def _identity(assertion: Any, config: ServiceProviderConfig, name_id: str) -> FederatedIdentity:
    attributes: dict[str, list[str]] = {}
    for attribute in _grandchildren(assertion, _ATTRIBUTE_STATEMENT, _ATTRIBUTE):
        name = attribute.get("Name")
        if not name:
            continue
        if name in attributes:
            raise refuse("saml.duplicate_attribute", "an attribute name occurs more than once")
        attributes[name] = [
            element_text(v).strip() for v in attribute.iterchildren(_ATTRIBUTE_VALUE)
        ]

    return identity_from_attributes(
        attributes,
        issuer=config.idp_entity_id,
        name_id=name_id,
        attribute_names=config.attribute_names,
    )


def identity_from_attributes(
    attributes: Mapping[str, Sequence[str]],
    *,
    issuer: str,
    name_id: str,
    attribute_names: Mapping[str, str] = ESIA_ATTRIBUTE_NAMES,
) -> FederatedIdentity:
    """The identity described by assertion ``attributes`` (values by attribute name).

    ``attribute_names`` maps :data:`IDENTITY_FIELDS` to attribute names; the subject falls
    back to the NameID, ``verified`` is true only for the value ``true``, a birth date is
    ``DD.MM.YYYY`` or ``YYYY-MM-DD`` (anything else is treated as absent, never guessed).
    """

    def first(field: str) -> str | None:
        name = attribute_names.get(field)
        if name is None:
            return None
        values = [v for v in attributes.get(name, ()) if v]
        return values[0] if values else None

    verified = first("verified")
    return FederatedIdentity(
        issuer=issuer,
        subject=first("subject") or name_id,
        verified=verified is not None and verified.lower() == "true",
        last_name=first("last_name"),
        first_name=first("first_name"),
        middle_name=first("middle_name"),
        birth_date=parse_date_or_none(first("birth_date")),
        snils=first("snils"),
        email=first("email"),
        phone=first("phone"),
        claims={"name_id": name_id, "attributes": {k: list(v) for k, v in attributes.items()}},
    )


_REPORTED_MESSAGE_CHARS: Final = 200


def _failure_reported(root: Any) -> str:
    """The refusal's message, with what the IdP says about the failure: its status codes
    (last URN segment) and its StatusMessage (e.g. ESIA's number), as reported — untrusted,
    kept printable and short, for the audit trail and never shown to the person."""
    codes = [
        _printable((code.get("Value") or "?").rsplit(":", 1)[-1])[:40]
        for code in root.iterfind(".//samlp:Status//samlp:StatusCode", NS)
    ][:3]
    said = _printable(root.findtext("samlp:Status/samlp:StatusMessage", "", NS))
    message = "the IdP reports that the login failed"
    if codes:
        message += " (" + "/".join(codes) + ")"
    if said:
        message += f"; it says: {said[:_REPORTED_MESSAGE_CHARS]!r}"
    return message


def _printable(text: str) -> str:
    """``text`` on one line, without control characters."""
    return "".join(c for c in " ".join(text.split()) if c.isprintable())
