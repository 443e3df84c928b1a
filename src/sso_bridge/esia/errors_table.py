"""ESIA's ``ESIA-0NNNNN`` error numbers, each with a stable ``esia.*`` code and a meaning.

ESIA answers a refused authorization request (on the redirect back) or token request (in
the JSON body) with an OAuth ``error`` and an ``error_description`` that starts with its own
number, e.g. ``ESIA-007014: The request doesn't contain the mandatory parameter
[client_certificate_hash]``. :func:`esia_refusal` reads that number; the table gives the
code the relying party raises and a sentence an administrator can act on. The numbers and
their meanings are those ESIA's guidelines and public ESIA clients list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

__all__ = ["ESIA_NUMBERS", "EsiaRefusal", "esia_number", "esia_refusal"]


@attrs.frozen
class EsiaRefusal:
    """What one ESIA error number means: our ``code`` and the administrator's ``advice``."""

    number: str
    code: str
    advice: str


def _row(number: str, code: str, advice: str) -> tuple[str, EsiaRefusal]:
    return number, EsiaRefusal(number, code, advice)


ESIA_NUMBERS: Final[Mapping[str, EsiaRefusal]] = MappingProxyType(
    dict(
        [
            _row(
                "ESIA-007002",
                "esia.certificate_not_registered",
                "ESIA has no certificate for this client_id, or another one: register the "
                "client certificate for this mnemonic on ESIA's technology portal",
            ),
            _row(
                "ESIA-007003",
                "esia.request_invalid",
                "ESIA found a parameter missing, wrong or repeated; check the endpoint "
                "version and the parameters the relying party sends",
            ),
            _row(
                "ESIA-007004",
                "esia.access_denied",
                "the person or ESIA declined the request (consent refused); nothing to fix",
            ),
            _row(
                "ESIA-007005",
                "esia.client_not_authorized",
                "the client may not obtain tokens this way: check the mnemonic, the "
                "registered certificate and the system's rights on the technology portal",
            ),
            _row(
                "ESIA-007006",
                "esia.scope_refused",
                "a requested scope is unknown or not granted to this system; "
                "check the configured scopes and scope_org",
            ),
            _row(
                "ESIA-007007",
                "esia.idp_failed",
                "ESIA failed unexpectedly; try again later",
            ),
            _row(
                "ESIA-007008",
                "esia.idp_unavailable",
                "ESIA is overloaded or under maintenance; try again later",
            ),
            _row(
                "ESIA-007009",
                "esia.grant_unsupported",
                "ESIA does not issue tokens by this grant or response type",
            ),
            _row(
                "ESIA-007011",
                "esia.code_refused",
                "the authorization code is invalid, expired, used or was issued to another "
                "client or redirect_uri; log in again",
            ),
            _row(
                "ESIA-007012",
                "esia.grant_unsupported",
                "ESIA does not issue tokens by this grant or response type",
            ),
            _row(
                "ESIA-007013",
                "esia.scope_refused",
                "the request names no scope; check the configured scopes",
            ),
            _row(
                "ESIA-007014",
                "esia.parameter_missing",
                "the request lacks a mandatory parameter; with the v2/ac and v3/te "
                "endpoints this is usually client_certificate_hash (use auth_method esia_gost)",
            ),
            _row(
                "ESIA-007015",
                "esia.request_time_wrong",
                "ESIA refused the timestamp: set the server clock by NTP; the timestamp "
                "must be 'yyyy.MM.dd HH:mm:ss +0300'",
            ),
            _row(
                "ESIA-007019",
                "esia.permission_missing",
                "the person has not granted this system the requested access",
            ),
            _row(
                "ESIA-007023",
                "esia.redirect_uri_refused",
                "the redirect_uri is not among those registered for this system on the "
                "technology portal",
            ),
            _row(
                "ESIA-007038",
                "esia.request_invalid",
                "ESIA could not read the request's parameters",
            ),
            _row(
                "ESIA-007039",
                "esia.pkce_refused",
                "the token request sent code_verifier but v2/ac had no code_challenge",
            ),
            _row(
                "ESIA-007040",
                "esia.pkce_refused",
                "code_verifier does not match the code_challenge of the authorization request",
            ),
            _row(
                "ESIA-007046",
                "esia.second_factor_unavailable",
                "the scope demands a second factor the person cannot use",
            ),
            _row(
                "ESIA-007053",
                "esia.client_secret_wrong",
                "ESIA refused client_secret or client_certificate_hash: the hash must be the "
                "hex Streebog-256 of the certificate's DER (not of the PEM text, not SHA-1), "
                "the signature must be GOST R 34.10-2012 over the exact fields, and the "
                "certificate must be the active one registered for this client_id",
            ),
            _row(
                "ESIA-007055",
                "esia.account_not_confirmed",
                "the person's ESIA account is not confirmed; this system requires a "
                "confirmed account",
            ),
            _row(
                "ESIA-007194",
                "esia.org_scope_refused",
                "an organisation scope was requested for an organisation the person does "
                "not work for",
            ),
            _row(
                "ESIA-008010",
                "esia.client_auth_failed",
                "ESIA could not authenticate the client system; check client_id, the "
                "certificate and the signer",
            ),
        ]
    )
)
"""Every known ESIA error number, by number."""

_NUMBER_RE: Final = re.compile(r"\s*(ESIA-[0-9]{6})\b")


def esia_number(description: str | None) -> str | None:
    """The ``ESIA-NNNNNN`` that starts ``description``, if it starts with one."""
    if not description:
        return None
    match = _NUMBER_RE.match(description)
    return match.group(1) if match else None


def esia_refusal(description: str | None) -> EsiaRefusal | None:
    """The table's entry for the number that starts ``description`` (None if unknown)."""
    number = esia_number(description)
    return None if number is None else ESIA_NUMBERS.get(number)
