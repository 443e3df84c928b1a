"""ESIA with GOST cryptography: Streebog and GOST R 34.10-2012, signers, client secrets."""

from __future__ import annotations

from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.gost import (
    DEFAULT_CURVE,
    GOST_JWT_ALG,
    GostCertificate,
    GostPrivateKey,
    GostPublicKey,
    generate_private_key,
    load_certificate,
    load_private_key_pem,
    private_key_pem,
    self_signed_certificate,
    sign,
    streebog256,
    verify,
)
from sso_bridge.esia.roles import Employer, EsiaOrganisation, StaffRolePolicy
from sso_bridge.esia.secret import (
    MOSCOW,
    certificate_hash,
    check_timestamp,
    client_secret,
    esia_timestamp,
    parse_esia_timestamp,
    secret_message,
    verify_client_secret,
)
from sso_bridge.esia.signer import InProcessGostSigner, OpenSslGostSigner, Signer

__all__ = [
    "DEFAULT_CURVE",
    "GOST_JWT_ALG",
    "MOSCOW",
    "Employer",
    "EsiaError",
    "EsiaOrganisation",
    "GostCertificate",
    "GostPrivateKey",
    "GostPublicKey",
    "InProcessGostSigner",
    "OpenSslGostSigner",
    "Signer",
    "StaffRolePolicy",
    "certificate_hash",
    "check_timestamp",
    "client_secret",
    "esia_timestamp",
    "generate_private_key",
    "load_certificate",
    "load_private_key_pem",
    "parse_esia_timestamp",
    "private_key_pem",
    "secret_message",
    "self_signed_certificate",
    "sign",
    "streebog256",
    "verify",
    "verify_client_secret",
]
