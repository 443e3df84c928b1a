"""The registry of error codes: what each one means and the HTTP status it maps to.

Every :class:`sso_bridge.errors.BridgeError` carries a stable dotted ``code``. This module
lists each code that the library and the mock IdP raise, once, with a one-sentence
meaning for the administrator or integrator who reads it in a log, and the HTTP status a
web adapter should answer with::

    from sso_bridge import codes

    except BridgeError as exc:
        status = codes.describe(exc.code).status

The statuses follow one rule: 400 for a refused message or bad input, 401 for a refused
authentication, 403 for a refusal by policy, 404 for something absent, 409 for a conflict
with stored state, 413 for a message that is too large, 429 for too many attempts, 500
for configuration or server faults, 502 for an unusable answer from the IdP and 503 for a
backend that cannot be reached. ``tests/test_codes.py`` checks that every code raised in
``src/`` is listed here, that every entry is raised somewhere, and that
``docs/errors.md`` matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

__all__ = ["CODES", "Code", "describe"]


@attrs.frozen
class Code:
    """One error code: its dotted ``name``, the HTTP ``status``, and its ``meaning``."""

    name: str
    status: int
    meaning: str


def _code(name: str, status: int, meaning: str) -> Code:
    return Code(name, status, meaning)


_ALL: Final[tuple[Code, ...]] = (
    # bridge: the root of the hierarchy, when no more specific code applies
    _code("bridge.error", 500, "An unexpected sso_bridge error; report it with its message."),
    # config: the library's own settings
    _code("config.invalid", 500, "A setting is wrong; the message names it."),
    _code("config.bad_db_url", 500, "The database URL is not sqlite: or postgresql:; fix --db."),
    _code("config.key_missing", 500, "No blind-index key found; set SSO_BRIDGE_KEY or --key-file."),
    _code("config.bad_key", 500, "The blind-index key is not 64 or more hex digits."),
    _code("config.key_too_short", 500, "The blind-index key has fewer than 32 bytes."),
    _code(
        "config.bad_store_url",
        500,
        "The short-lived store URL is not memory:, sqlite:///FILE, postgresql:// or redis://.",
    ),
    # input: data handed to the library
    _code("input.invalid", 400, "The data does not have the required form; see the message."),
    _code("input.bad_json", 400, "The JSON is malformed, too large, too deep or out of range."),
    _code("input.bad_base64url", 400, "A value is not strict unpadded base64url."),
    _code("input.bad_pkce_verifier", 400, "A PKCE code_verifier must be ASCII."),
    _code("input.bad_ip", 400, "A client or forwarded IP address is malformed."),
    _code("input.control_characters", 400, "An identifier holds control or invisible characters."),
    # identity: a federated identity given as JSON
    _code("identity.bad_json", 400, "The identity is not valid JSON."),
    _code("identity.invalid", 400, "The identity is not a JSON object or a field has a bad type."),
    _code("identity.unknown_field", 400, "The identity has unknown fields; remove them."),
    _code("identity.missing_subject", 400, "The identity lacks its issuer or subject."),
    # snils: the insurance number (СНИЛС)
    _code("snils.malformed", 400, "A SNILS must have 11 digits."),
    _code("snils.checksum", 400, "The SNILS check digits are wrong; the number is mistyped."),
    # passport: the Russian passport number
    _code("passport.malformed", 400, "A passport needs a 4-digit series and a 6-digit number."),
    # date: dates of birth
    _code("date.malformed", 400, "A date must be YYYY-MM-DD or DD.MM.YYYY."),
    # otp: one-time password secrets
    _code("otp.bad_secret", 500, "A TOTP secret is not base32; fix the person's totp_secret."),
    _code("otp.bad_algorithm", 400, "The OTP algorithm must be sha1, sha256 or sha512."),
    _code("otp.bad_digits", 400, "An OTP code has 6 or 8 digits."),
    _code("otp.bad_counter", 400, "An HOTP counter must be an unsigned 64-bit number."),
    _code("otp.bad_step", 400, "A TOTP period or window is out of range."),
    # import: CSV files of local accounts
    _code("import.invalid_rows", 400, "Bad rows (listed above); fix them, nothing was imported."),
    _code("import.bad_header", 400, "The file is empty or its header misnames columns."),
    _code("import.bad_csv", 400, "The file is not readable CSV at the line given."),
    _code("import.bad_encoding", 400, "The file is not UTF-8; save it as UTF-8."),
    _code("import.unreadable", 400, "The file cannot be opened; check its path and permissions."),
    # store: the database
    _code("store.error", 500, "The database reported an error; the message gives its reason."),
    _code("store.unavailable", 503, "The database cannot be reached; check the server and URL."),
    _code("store.write_failed", 503, "A database write failed (locked, full or offline); retry."),
    _code("store.schema_too_new", 500, "A newer sso_bridge made this database; upgrade."),
    _code("store.key_mismatch", 500, "The database was built with another blind-index key."),
    _code("store.unknown_organization", 400, "Accounts name an organisation that is not known."),
    _code(
        "store.not_found",
        404,
        "The database does not exist or has no schema; create it with sso-bridge init.",
    ),
    _code(
        "store.credentials_key_mismatch",
        500,
        "The TOTP secrets were sealed with another credentials key; use that key.",
    ),
    # account: local accounts
    _code("account.not_found", 404, "No local account has this ID."),
    # link: links between federated identities and local accounts
    _code("link.error", 409, "A link could not be made or removed; nothing was changed."),
    _code("link.refused", 403, "A linking rule forbids this link."),
    _code("link.conflict", 409, "The account links to another subject of this IdP; unlink it."),
    _code("link.not_found", 404, "There is no such link."),
    _code("link.not_automatic", 409, "No single safe candidate; let the person choose or log in."),
    _code("link.not_verified", 403, "The identity is unverified; the person must log in locally."),
    _code("link.not_a_candidate", 403, "The chosen account is not (or no longer) a candidate."),
    _code("link.account_blocked", 403, "The local account is blocked; unblock it before linking."),
    _code("link.snils_conflict", 409, "The SNILS of account and identity differ; check both."),
    _code("link.bad_issuer", 400, "The issuer of a link is not an absolute http(s) URL."),
    _code("link.bad_subject", 400, "The subject of a link is empty or holds control characters."),
    # match: the match command
    _code("match.choice_required", 409, "Several accounts match; name one with --account."),
    # cli: the command line
    _code("cli.usage", 400, "The command-line options do not fit together; the message says how."),
    # oidc: the OIDC relying party (settings, discovery, callback, tokens, userinfo)
    _code("oidc.error", 502, "An OIDC login failed; the message says why."),
    _code("oidc.config_invalid", 500, "The OIDC client settings are wrong; fix the one named."),
    _code("oidc.discovery_invalid", 502, "The IdP's discovery document failed or lacks a field."),
    _code("oidc.discovery_issuer_mismatch", 502, "Discovery names another issuer; fix the issuer."),
    _code("oidc.http_error", 503, "The IdP cannot be reached (network error, timeout); retry."),
    _code("oidc.bad_response", 502, "The IdP answered an HTTP error or a body that is not JSON."),
    _code("oidc.response_too_large", 502, "The IdP's answer is over the relying party's size cap."),
    _code("oidc.jwks_invalid", 502, "The IdP's key set (JWKS) failed to load or has no keys."),
    _code("oidc.no_pending_login", 400, "No login is pending in this session; start it again."),
    _code("oidc.pending_invalid", 400, "The login kept in the session is unreadable; start again."),
    _code("oidc.state_mismatch", 400, "The callback's state is not this browser's; start again."),
    _code("oidc.state_reused", 400, "This callback was already used; start the login again."),
    _code("oidc.login_expired", 400, "The login took too long; start it again."),
    _code("oidc.wrong_provider", 400, "The callback or login belongs to another configured IdP."),
    _code("oidc.iss_missing", 400, "The callback lacks iss, which the IdP announced (RFC 9207)."),
    _code("oidc.iss_mismatch", 400, "The callback's iss is not the configured IdP."),
    _code("oidc.missing_code", 400, "The callback carries no authorization code."),
    _code("oidc.authorization_error", 401, "The IdP refused the login; see the message for why."),
    _code("oidc.access_denied", 401, "The person cancelled the login or the IdP denied it."),
    _code("oidc.login_required", 401, "The IdP requires the person to log in again."),
    _code("oidc.consent_required", 401, "The person did not consent to share the data."),
    _code("oidc.invalid_scope", 500, "The IdP refused the requested scopes; fix the scopes."),
    _code("oidc.invalid_request", 500, "The IdP refused the request; check the client settings."),
    _code("oidc.token_error", 502, "The token endpoint refused or gave an unusable answer."),
    _code("oidc.invalid_grant", 400, "The code is invalid, expired or used; log in again."),
    _code("oidc.client_auth_failed", 500, "The IdP refused the client's credentials; check them."),
    _code("oidc.invalid_id_token", 401, "The ID token failed validation."),
    _code("oidc.malformed_token", 502, "The ID token is not a well-formed signed JWT."),
    _code("oidc.alg_not_allowed", 401, "The ID token's algorithm is not on the allow-list."),
    _code("oidc.kid_ambiguous", 502, "Several JWKS keys fit the ID token, which names no kid."),
    _code("oidc.unknown_kid", 401, "The ID token's key is not in the JWKS, even after a refresh."),
    _code("oidc.key_alg_mismatch", 401, "The ID token's key does not fit its algorithm."),
    _code("oidc.bad_signature", 401, "The ID token's signature does not verify."),
    _code("oidc.missing_claim", 401, "The ID token lacks a required claim."),
    _code("oidc.wrong_issuer", 401, "The ID token is from another issuer than the configured IdP."),
    _code("oidc.wrong_audience", 401, "The ID token is not for this client_id."),
    _code("oidc.wrong_azp", 401, "The ID token's azp names another client."),
    _code("oidc.expired", 401, "The ID token has expired; check the server clock if this repeats."),
    _code("oidc.issued_in_future", 401, "The ID token is issued in the future; check the clock."),
    _code("oidc.not_yet_valid", 401, "The ID token is not valid yet; check the server clock."),
    _code("oidc.nonce_mismatch", 401, "The ID token's nonce is not this login's; maybe a replay."),
    _code("oidc.bad_at_hash", 401, "The ID token's at_hash does not match the access token."),
    _code("oidc.userinfo_sub_mismatch", 502, "Userinfo is about another person than the ID token."),
    _code("oidc.weak_key", 502, "The IdP's signing key is RSA under 2048 bits (or the minimum)."),
    # esia: ESIA's client_secret (a detached CMS signature) and the mock IdP's OIDC refusals
    _code("esia.unsupported_key", 500, "The ESIA client key must be RSA or EC P-256."),
    _code("esia.weak_key", 500, "An ESIA RSA key or certificate is under 2048 bits; replace it."),
    _code("esia.key_mismatch", 500, "The ESIA client key does not belong to its certificate."),
    _code(
        "esia.timestamp_invalid",
        401,
        "The timestamp is not YYYY.MM.DD HH:MM:SS +hhmm (+0000 v1, +0300 v2).",
    ),
    _code("esia.timestamp_stale", 401, "The timestamp is too far off; check the client's clock."),
    _code(
        "esia.secret_malformed",
        401,
        "The client_secret is not a CMS SignedData (v1) or a GOST signature (v2).",
    ),
    _code("esia.secret_not_detached", 401, "The client_secret must be a detached signature."),
    _code("esia.secret_wrong_signer", 401, "The client_secret has another signer than registered."),
    _code("esia.secret_unsupported_algorithm", 401, "The client_secret uses a refused algorithm."),
    _code("esia.secret_bad_digest", 401, "The client_secret signs another scope, time or state."),
    _code("esia.secret_bad_signature", 401, "The client_secret's signature does not verify."),
    _code("esia.field_too_long", 400, "A client-authentication field is over its size limit."),
    _code("esia.unknown_client", 400, "The client_id is not registered with the IdP."),
    _code("esia.bad_redirect_uri", 400, "The redirect_uri is not registered for this client."),
    _code("esia.unsupported_response_type", 400, "The response_type must be code."),
    _code("esia.invalid_request", 400, "The request lacks a parameter or has a bad one."),
    _code("esia.invalid_scope", 400, "A scope is unknown."),
    _code("esia.scope_missing", 400, "The authorization request names no scope."),
    _code("esia.request_replayed", 400, "The same signed authorization request came twice."),
    _code("esia.login_over", 400, "The login attempt is over; start the login again."),
    _code("esia.login_timed_out", 400, "The login attempt timed out; start the login again."),
    _code("esia.wrong_credentials", 400, "Wrong login or password; the attempt is over."),
    _code("esia.not_confirmed", 400, "The client requires a confirmed account."),
    _code("esia.second_factor_failed", 400, "Too many wrong one-time codes; the attempt is over."),
    _code("esia.login_wrong_browser", 403, "The login began in another browser; start it again."),
    _code("esia.invalid_client", 401, "The client's authentication failed; check its credentials."),
    _code("esia.unsupported_grant_type", 400, "The grant_type is not one the IdP supports."),
    _code("esia.invalid_grant", 400, "The code or refresh token is unknown, used or mismatched."),
    _code("esia.code_expired", 400, "The authorization code expired; log in again."),
    _code("esia.pkce_verifier_unexpected", 400, "A code_verifier for a code without a challenge."),
    _code("esia.pkce_mismatch", 400, "The code_verifier does not match the code_challenge."),
    _code(
        "esia.certificate_hash_wrong", 401, "The client_certificate_hash is not the registered one."
    ),
    _code("esia.invalid_token", 401, "The access token is unknown or expired."),
    _code("esia.forbidden", 403, "The access token lacks the scope or is another person's."),
    _code("esia.not_found", 404, "No such person, organisation, collection or element."),
    _code("esia.server_error", 500, "The mock IdP failed unexpectedly; see its log."),
    _code("esia.error", 500, "An ESIA client-authentication step failed; the message says why."),
    _code(
        "esia.gost_bad_key",
        500,
        "A GOST key is unreadable, out of range, off its curve or on an unknown curve.",
    ),
    _code(
        "esia.gost_bad_certificate",
        500,
        "The certificate is not X.509 with a GOST R 34.10-2012 256-bit key.",
    ),
    _code(
        "esia.signer_not_configured",
        500,
        "The openssl signer cannot start: key, certificate, openssl or gost engine.",
    ),
    _code(
        "esia.signer_failed",
        503,
        "The openssl signer failed, timed out or gave no 64-byte signature.",
    ),
    _code(
        "esia.state_mismatch",
        400,
        "The v3/te answer's state is not the one our token request sent.",
    ),
    _code(
        "esia.access_token_invalid",
        401,
        "ESIA's access token is malformed or has a wrong header or claim.",
    ),
    _code(
        "esia.access_token_bad_signature",
        401,
        "ESIA's access token's signature does not verify with ESIA's keys.",
    ),
    _code(
        "esia.access_token_expired",
        401,
        "ESIA's access token is expired or not yet valid; check the server clock.",
    ),
    _code(
        "esia.subject_mismatch",
        502,
        "ESIA's access token and ID token name different people.",
    ),
    _code(
        "esia.parameter_missing",
        400,
        "ESIA-007014: a mandatory parameter is missing, usually client_certificate_hash.",
    ),
    _code(
        "esia.client_secret_wrong",
        500,
        "ESIA-007053: the client_secret or certificate hash is wrong, or the certificate inactive.",
    ),
    _code(
        "esia.certificate_not_registered",
        500,
        "ESIA-007002: ESIA has no certificate, or another one, for this system.",
    ),
    _code(
        "esia.client_not_authorized", 500, "ESIA-007005: this system may not get tokens this way."
    ),
    _code(
        "esia.request_time_wrong",
        500,
        "ESIA-007015: ESIA refused the timestamp; check the server clock.",
    ),
    _code(
        "esia.request_invalid",
        500,
        "ESIA-007003/-007038: a parameter is missing, wrong or repeated.",
    ),
    _code(
        "esia.scope_refused",
        500,
        "ESIA-007006/-007013: a scope is unknown, not granted or missing.",
    ),
    _code(
        "esia.grant_unsupported",
        500,
        "ESIA-007009/-007012: this grant or response type is not supported.",
    ),
    _code(
        "esia.redirect_uri_refused",
        500,
        "ESIA-007023: the redirect_uri is not registered for the system.",
    ),
    _code(
        "esia.client_auth_failed",
        500,
        "ESIA-008010: ESIA could not authenticate the client system.",
    ),
    _code("esia.access_denied", 401, "ESIA-007004: the person or ESIA declined the request."),
    _code(
        "esia.code_refused",
        400,
        "ESIA-007011: the code is invalid, expired, used or another client's.",
    ),
    _code(
        "esia.pkce_refused",
        400,
        "ESIA-007039/-007040: the code_verifier does not match the code_challenge.",
    ),
    _code("esia.permission_missing", 403, "ESIA-007019: the person has not granted the access."),
    _code(
        "esia.second_factor_unavailable",
        403,
        "ESIA-007046: the scope needs a second factor the person cannot use.",
    ),
    _code(
        "esia.account_not_confirmed",
        403,
        "ESIA-007055: the person's ESIA account is not confirmed.",
    ),
    _code(
        "esia.org_scope_refused",
        403,
        "ESIA-007194: an organisation scope for an organisation the person is not in.",
    ),
    _code("esia.idp_failed", 503, "ESIA-007007: ESIA failed unexpectedly; retry later."),
    _code(
        "esia.idp_unavailable",
        503,
        "ESIA-007008: ESIA is overloaded or under maintenance; retry later.",
    ),
    _code("esia.roles_invalid", 502, "ESIA's roles answer is not a list of organisations."),
    _code(
        "esia.organisation_invalid",
        502,
        "ESIA's organisation answer (/rs/orgs/{oid}) is not usable.",
    ),
    # saml: the SAML service provider, its xmlsec backend and the mock IdP's SAML side
    _code("saml.invalid", 400, "A SAML message was refused; the message says why."),
    _code("saml.bad_config", 500, "The SAML settings are wrong; fix the one named."),
    _code("saml.bad_metadata", 500, "The SAML metadata cannot be used; fix or replace it."),
    _code("saml.key_invalid", 500, "A SAML key or certificate cannot be loaded or does not fit."),
    _code("saml.weak_key", 500, "An IdP certificate's RSA key is below the configured minimum."),
    _code("saml.no_trusted_key", 500, "No IdP certificate is configured to check signatures."),
    _code("saml.no_decryption_key", 500, "The assertion is encrypted but no key is configured."),
    _code("saml.relay_state_too_long", 400, "The RelayState is too long; pass a shorter one."),
    _code("saml.unknown_binding", 400, "The binding must be redirect or post."),
    _code("saml.too_large", 413, "The SAML message exceeds the size limit."),
    _code("saml.bad_encoding", 400, "The message is not valid base64/DEFLATE, or a bad query."),
    _code("saml.xml_invalid", 400, "The message is not well-formed XML."),
    _code("saml.dtd_forbidden", 400, "The message contains a DTD, which is never accepted."),
    _code("saml.too_complex", 400, "The XML shape is beyond a limit, named in the message."),
    _code("saml.external_reference", 400, "The message refers outside itself; nothing is fetched."),
    _code("saml.missing_id", 400, "The signed element has no ID."),
    _code("saml.invalid_id", 400, "An ID is not an XML NCName."),
    _code("saml.duplicate_id", 400, "An ID occurs more than once in the message."),
    _code("saml.element_not_found", 400, "The signed ID names no element, or the wrong one."),
    _code("saml.not_a_response", 400, "The message is missing or not the expected SAML response."),
    _code("saml.bad_version", 400, "Only SAML 2.0 messages are accepted."),
    _code("saml.unsigned", 401, "The message or assertion is not signed, but must be."),
    _code("saml.multiple_signatures", 401, "The element carries more than one signature."),
    _code("saml.object_forbidden", 401, "The signature carries a ds:Object, which is refused."),
    _code("saml.malformed_signature", 401, "The signature lacks a required part or has it twice."),
    _code("saml.reference_mismatch", 401, "The signature does not reference exactly this element."),
    _code("saml.bad_transforms", 401, "The signature uses transforms that are not allowed."),
    _code("saml.bad_canonicalization", 401, "The signature does not use exclusive c14n."),
    _code("saml.bad_algorithm", 401, "A signature, digest or encryption algorithm is not allowed."),
    _code("saml.empty_signature", 401, "The SignatureValue is empty."),
    _code("saml.wrong_key", 401, "Signed by a key not in the IdP's metadata; update the metadata."),
    _code("saml.signature_invalid", 401, "The signature does not verify with the IdP's keys."),
    _code("saml.wrong_destination", 401, "Addressed to another URL; check the SP URLs at the IdP."),
    _code("saml.wrong_issuer", 401, "The message is not from the configured IdP."),
    _code("saml.status_not_success", 401, "The IdP reports that the login or logout failed."),
    _code("saml.assertion_count", 400, "The response must carry exactly one assertion."),
    _code("saml.assertion_misplaced", 400, "The assertion is not a direct child of the response."),
    _code("saml.malformed_encryption", 400, "The encrypted assertion lacks a required part."),
    _code("saml.decrypt_failed", 400, "Cannot decrypt; give the IdP the SP's current certificate."),
    _code("saml.no_subject", 400, "The assertion has no NameID."),
    _code("saml.wrong_sp_name_qualifier", 401, "The NameID is qualified for another SP."),
    _code("saml.no_bearer", 400, "The assertion lacks one usable bearer SubjectConfirmation."),
    _code("saml.wrong_recipient", 401, "The assertion is for another recipient than this ACS URL."),
    _code("saml.in_response_to_mismatch", 401, "The response answers no pending request."),
    _code("saml.unsolicited", 403, "An unrequested response, and IdP-initiated login is off."),
    _code("saml.replayed", 401, "This assertion was accepted before; it is being replayed."),
    _code("saml.expired", 401, "The assertion has expired; check the clock if this repeats."),
    _code("saml.not_yet_valid", 401, "The assertion is not valid yet; check the server clock."),
    _code("saml.no_conditions", 400, "The assertion has no Conditions."),
    _code("saml.wrong_audience", 401, "The assertion is not for this SP's entity ID."),
    _code("saml.no_authn_statement", 400, "The assertion has no AuthnStatement."),
    _code("saml.session_expired", 401, "The IdP session of the assertion has ended; log in again."),
    _code("saml.missing_time", 400, "A required time attribute is missing."),
    _code("saml.bad_time", 400, "A time attribute is not an xs:dateTime."),
    _code("saml.time_out_of_range", 400, "A time attribute lies outside years 1970 to 2999."),
    _code("saml.duplicate_attribute", 400, "An attribute occurs more than once in the assertion."),
    _code("saml.crypto_failed", 500, "Signing or encrypting a SAML message failed."),
    _code("saml.sign_failed", 500, "A SAML message could not be signed; the message says why."),
    _code("saml.encrypt_failed", 500, "An assertion could not be encrypted for the recipient."),
    _code("saml.unsupported", 500, "The xmlsec backend does not decrypt; pysaml2 must."),
    _code("saml.bad_request", 400, "The SAML request is missing, malformed or of the wrong kind."),
    _code("saml.unknown_sp", 403, "The service provider is not registered with the IdP."),
    _code("saml.bad_request_signature", 403, "The request's signature is missing or wrong."),
    _code("saml.bad_destination", 400, "The request is addressed to another IdP endpoint."),
    _code("saml.bad_acs", 403, "The requested ACS is not in the SP's metadata."),
    _code("saml.unsupported_binding", 400, "Responses are sent over HTTP-POST only."),
    _code("saml.no_logout_endpoint", 400, "The SP's metadata has no SingleLogoutService."),
    _code("saml.nothing_to_replay", 409, "No assertion was sent to this SP yet to replay."),
    # auth: local passwords
    _code("auth.error", 401, "A local login was refused; the message says why."),
    _code("auth.bad_password", 401, "Wrong organisation, login or password."),
    _code("auth.locked", 403, "Locked after 5 failed logins; a school administrator unlocks it."),
    _code(
        "auth.account_blocked",
        403,
        "The school account is blocked; a school administrator unblocks it.",
    ),
    _code("auth.no_password", 401, "The account has no local password; set one first."),
    _code(
        "auth.weak_password",
        400,
        "The new password breaks the password policy; the message names the rule.",
    ),
    _code("auth.bad_hash", 500, "A stored password hash is not argon2; set the password again."),
    # mfa: the second factor
    _code("mfa.error", 401, "The second factor failed; the message says why."),
    _code("mfa.wrong_code", 401, "The code is wrong; try again while attempts are left."),
    _code(
        "mfa.totp_step_reused",
        401,
        "This authenticator code was used already; wait for the next one.",
    ),
    _code(
        "mfa.too_many_attempts",
        429,
        "Five wrong codes: the challenge is void; start the login again.",
    ),
    _code("mfa.challenge_expired", 401, "The code has expired; ask for a new one."),
    _code("mfa.challenge_unknown", 404, "No such challenge: unknown, used, or another account's."),
    _code("mfa.bad_channel", 400, "The channel is not sms, email or totp, or cannot send again."),
    _code("mfa.no_destination", 400, "There is no phone or e-mail to send the code to."),
    _code("mfa.resend_limit", 429, "The code was sent as often as allowed; start the login again."),
    _code("mfa.resend_too_soon", 429, "Wait a little before asking for another code."),
    _code("mfa.totp_not_enrolled", 404, "The account has no authenticator app enrolled."),
    _code("mfa.bad_label", 400, "A TOTP issuer or account name is empty or has a colon."),
    # session: sessions and kept requests
    _code("session.missing", 401, "No session token, or one that is not well-formed; log in."),
    _code(
        "session.unknown", 401, "No such session: revoked, rotated, ended or long expired; log in."
    ),
    _code("session.expired", 401, "The session reached its absolute lifetime; log in again."),
    _code("session.idle_expired", 401, "The session was idle too long; log in again."),
    _code("session.ip_changed", 401, "The session was used from another IP address and was ended."),
    _code("session.account_not_offered", 403, "This session may not switch to that account."),
    _code(
        "session.csrf_invalid", 403, "The form's CSRF token is wrong or missing; reload the page."
    ),
    _code("session.kept_request_unknown", 404, "No kept request with this id for this browser."),
    _code(
        "session.kept_request_other_account",
        403,
        "Another account logged in; the kept request was discarded.",
    ),
    _code(
        "session.kept_request_too_large", 413, "The request is too large to keep across the login."
    ),
    _code(
        "session.kept_request_bad_path", 400, "A kept request must go to a local path of this site."
    ),
    _code("session.kept_request_bad_method", 400, "Only GET and POST requests are kept."),
    # broker: the login state machine
    _code("broker.error", 500, "A login step failed; the message says why."),
    _code(
        "broker.out_of_order", 409, "A login step was taken out of order; start the login again."
    ),
    _code(
        "broker.step_unknown",
        400,
        "The login step is unknown, used or expired; start the login again.",
    ),
    _code("broker.step_foreign", 403, "The login step belongs to another browser."),
    _code("broker.not_offered", 403, "That account was not offered to this person."),
    _code("broker.not_linked", 403, "That account is no longer linked to this person's login."),
    _code(
        "broker.no_match", 404, "No school account is linked or matched; log in locally, then link."
    ),
    _code(
        "broker.account_blocked",
        403,
        "The linked school account is blocked; ask the administrator.",
    ),
    _code(
        "broker.no_second_factor",
        403,
        "A second factor is required but none is on record for the account.",
    ),
    _code(
        "broker.provider_disabled",
        403,
        "Login through this provider is switched off in configuration.",
    ),
    _code("broker.unknown_provider", 404, "No provider of that name is configured."),
    _code(
        "broker.wrong_provider",
        400,
        "The answer came from another provider than the login started with.",
    ),
    _code(
        "broker.idp_initiated",
        403,
        "A login started at the IdP never links an account; log in from the site.",
    ),
    _code("broker.saml_request_mismatch", 401, "The SAML answer is for a login started elsewhere."),
    _code("broker.session_not_yours", 404, "No session of this account has that id."),
    _code(
        "broker.not_an_employee",
        403,
        "A staff account, but ESIA does not list the person in its organisation.",
    ),
    # audit: the audit trail
    _code(
        "audit.chain_broken", 409, "A record's hash does not match its content or its predecessor."
    ),
    _code(
        "audit.invalid_event", 400, "An audit event has a naive time or a field of the wrong type."
    ),
    _code(
        "audit.bad_since", 400, "The --since time is not an ISO date or date-time with a time zone."
    ),
    # web: the web adapters
    _code("web.error", 400, "The web adapter refused the request; the message says why."),
    _code("web.form_too_large", 413, "The submitted form is larger than the adapter's limit."),
    _code("web.too_many_fields", 413, "The form has more fields than the adapter's limit."),
    _code("web.field_too_large", 413, "A form field is larger than the adapter's limit."),
    _code("web.bad_form", 400, "The form body is malformed, or the client stopped mid-body."),
    _code("web.query_too_large", 414, "The query string is too long or has too many parameters."),
    _code("web.headers_too_large", 431, "The request has more headers than the adapter's limit."),
    # mock_idp: the mock IdP's own configuration and keys
    _code("mock_idp.config_unreadable", 500, "The mock IdP's config file cannot be read."),
    _code("mock_idp.config_invalid", 500, "The mock IdP's config file is not a YAML/JSON mapping."),
    _code("mock_idp.bad_person", 500, "A person in the mock IdP's config has an invalid field."),
    _code("mock_idp.bad_key", 500, "A mock IdP key cannot be loaded or does not fit."),
    _code("mock_idp.bad_algorithm", 500, "The mock IdP has no key for the requested algorithm."),
    _code("mock_idp.wrong_code", 401, "A wrong one-time code; the person may try again."),
)


def _index(entries: tuple[Code, ...]) -> Mapping[str, Code]:
    table: dict[str, Code] = {}
    for entry in entries:
        if entry.name in table:
            raise ValueError(f"error code {entry.name!r} is listed twice")
        table[entry.name] = entry
    return MappingProxyType(table)


CODES: Final[Mapping[str, Code]] = _index(_ALL)
"""Every error code by name, in the order of the families above (read-only)."""


def describe(code: str) -> Code:
    """The registry entry of ``code``; ``KeyError`` when the code is not registered."""
    return CODES[code]
