"""Errors of the SAML service provider; each refusal has its own stable ``saml.*`` code."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, ConfigError, InvalidInput, declare

__all__ = ["SamlConfigError", "SamlError", "SamlInputError", "SamlLogoutError", "refuse"]


class SamlError(BridgeError):
    """A SAML message, signature or configuration was refused; ``code`` says why."""

    family = "saml"
    about = (
        "The SAML service provider, its xmlsec signing backend for pysaml2, and the mock "
        "IdP's SAML side ([protocols.md](protocols.md))."
    )
    codes = declare(
        Code("saml.invalid", 400, "A SAML message was refused; the message says why."),
        Code("saml.bad_config", 500, "The SAML settings are wrong; fix the one named."),
        Code("saml.bad_metadata", 500, "The SAML metadata cannot be used; fix or replace it."),
        Code(
            "saml.key_invalid", 500, "A SAML key or certificate cannot be loaded or does not fit."
        ),
        Code("saml.weak_key", 500, "An IdP certificate's RSA key is below the configured minimum."),
        Code("saml.no_trusted_key", 500, "No IdP certificate is configured to check signatures."),
        Code("saml.no_decryption_key", 500, "The assertion is encrypted but no key is configured."),
        Code("saml.relay_state_too_long", 400, "The RelayState is too long; pass a shorter one."),
        Code("saml.unknown_binding", 400, "The binding must be redirect or post."),
        Code("saml.too_large", 413, "The SAML message exceeds the size limit."),
        Code("saml.bad_encoding", 400, "The message is not valid base64/DEFLATE, or a bad query."),
        Code("saml.xml_invalid", 400, "The message is not well-formed XML."),
        Code("saml.dtd_forbidden", 400, "The message contains a DTD, which is never accepted."),
        Code("saml.too_complex", 400, "The XML shape is beyond a limit, named in the message."),
        Code(
            "saml.external_reference", 400, "The message refers outside itself; nothing is fetched."
        ),
        Code("saml.missing_id", 400, "The signed element has no ID."),
        Code("saml.invalid_id", 400, "An ID is not an XML NCName."),
        Code("saml.duplicate_id", 400, "An ID occurs more than once in the message."),
        Code("saml.element_not_found", 400, "The signed ID names no element, or the wrong one."),
        Code(
            "saml.not_a_response", 400, "The message is missing or not the expected SAML response."
        ),
        Code("saml.bad_version", 400, "Only SAML 2.0 messages are accepted."),
        Code("saml.unsigned", 401, "The message or assertion is not signed, but must be."),
        Code("saml.multiple_signatures", 401, "The element carries more than one signature."),
        Code("saml.object_forbidden", 401, "The signature carries a ds:Object, which is refused."),
        Code(
            "saml.malformed_signature", 401, "The signature lacks a required part or has it twice."
        ),
        Code(
            "saml.reference_mismatch", 401, "The signature does not reference exactly this element."
        ),
        Code("saml.bad_transforms", 401, "The signature uses transforms that are not allowed."),
        Code("saml.bad_canonicalization", 401, "The signature does not use exclusive c14n."),
        Code(
            "saml.bad_algorithm", 401, "A signature, digest or encryption algorithm is not allowed."
        ),
        Code("saml.empty_signature", 401, "The SignatureValue is empty."),
        Code(
            "saml.wrong_key", 401, "Signed by a key not in the IdP's metadata; update the metadata."
        ),
        Code("saml.signature_invalid", 401, "The signature does not verify with the IdP's keys."),
        Code(
            "saml.wrong_destination", 401, "Addressed to another URL; check the SP URLs at the IdP."
        ),
        Code("saml.wrong_issuer", 401, "The message is not from the configured IdP."),
        Code("saml.status_not_success", 401, "The IdP reports that the login or logout failed."),
        Code("saml.assertion_count", 400, "The response must carry exactly one assertion."),
        Code(
            "saml.assertion_misplaced", 400, "The assertion is not a direct child of the response."
        ),
        Code("saml.malformed_encryption", 400, "The encrypted assertion lacks a required part."),
        Code(
            "saml.decrypt_failed", 400, "Cannot decrypt; give the IdP the SP's current certificate."
        ),
        Code("saml.no_subject", 400, "The assertion has no NameID."),
        Code("saml.wrong_sp_name_qualifier", 401, "The NameID is qualified for another SP."),
        Code("saml.no_bearer", 400, "The assertion lacks one usable bearer SubjectConfirmation."),
        Code(
            "saml.wrong_recipient", 401, "The assertion is for another recipient than this ACS URL."
        ),
        Code("saml.in_response_to_mismatch", 401, "The response answers no pending request."),
        Code("saml.unsolicited", 403, "An unrequested response, and IdP-initiated login is off."),
        Code("saml.replayed", 401, "This assertion was accepted before; it is being replayed."),
        Code("saml.expired", 401, "The assertion has expired; check the clock if this repeats."),
        Code("saml.not_yet_valid", 401, "The assertion is not valid yet; check the server clock."),
        Code("saml.no_conditions", 400, "The assertion has no Conditions."),
        Code("saml.wrong_audience", 401, "The assertion is not for this SP's entity ID."),
        Code("saml.no_authn_statement", 400, "The assertion has no AuthnStatement."),
        Code(
            "saml.session_expired", 401, "The IdP session of the assertion has ended; log in again."
        ),
        Code("saml.missing_time", 400, "A required time attribute is missing."),
        Code("saml.bad_time", 400, "A time attribute is not an xs:dateTime."),
        Code("saml.time_out_of_range", 400, "A time attribute lies outside years 1970 to 2999."),
        Code(
            "saml.duplicate_attribute", 400, "An attribute occurs more than once in the assertion."
        ),
        Code("saml.crypto_failed", 500, "Signing or encrypting a SAML message failed."),
        Code("saml.sign_failed", 500, "A SAML message could not be signed; the message says why."),
        Code("saml.encrypt_failed", 500, "An assertion could not be encrypted for the recipient."),
        Code("saml.unsupported", 500, "The xmlsec backend does not decrypt; pysaml2 must."),
    )
    code = "saml.invalid"


class SamlConfigError(SamlError, ConfigError):
    """The SAML settings or metadata cannot be used; also a
    :class:`~sso_bridge.errors.ConfigError`."""

    code = "saml.bad_config"


class SamlInputError(SamlError, InvalidInput):
    """A value handed to the service provider is refused; also an
    :class:`~sso_bridge.errors.InvalidInput`."""

    code = "saml.unknown_binding"


class SamlLogoutError(SamlError):
    """A single-logout message was refused."""

    codes = declare(
        Code("saml.no_slo", 500, "Single logout needs the IdP's SLO URL and this SP's slo_url."),
        Code("saml.not_a_request", 400, "The message is not a LogoutRequest."),
        Code("saml.no_name_id", 400, "The LogoutRequest names no NameID."),
    )
    code = "saml.not_a_request"


def refuse(code: str, message: str) -> SamlError:
    """A :class:`SamlError` with ``code`` (a convenience for ``raise refuse(...)``)."""
    return SamlError(message, code=code)
