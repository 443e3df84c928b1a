"""ESIA (Госуслуги): its OpenID Connect profile, GOST cryptography, client secrets and APIs.

:class:`EsiaConfig` (built by :func:`esia_provider_config`) is a provider configuration
of :mod:`sso_bridge.oidc`; ``RelyingParty(config, http)`` makes an
:class:`EsiaRelyingParty` of it, which :class:`EsiaProvider` serves to the broker. The
rest: Streebog and GOST R 34.10-2012 (``gost``, ``curve``, ``gost_keys``), signers
(``signer``), v2/v3 client secrets (``secret``), the v1 CMS secret (``cms``), GOST JWTs
(``tokens``), ESIA's certificates (``certificates``, ``keys``), its access token
(``access_token``), the person API (``person_api``), error numbers (``errors_table``) and
organisations with the staff-role policy (``roles``).
"""

from __future__ import annotations

from sso_bridge.esia.config import EsiaAuthMethod, EsiaConfig, esia_provider_config
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
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.person_api import identity_from_esia_person
from sso_bridge.esia.provider import EsiaProvider, EsiaRelyingParty
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
    "EsiaAuthMethod",
    "EsiaConfig",
    "EsiaError",
    "EsiaOrganisation",
    "EsiaProvider",
    "EsiaRelyingParty",
    "GostCertificate",
    "GostKeyring",
    "GostPrivateKey",
    "GostPublicKey",
    "InProcessGostSigner",
    "OpenSslGostSigner",
    "Signer",
    "StaffRolePolicy",
    "certificate_hash",
    "check_timestamp",
    "client_secret",
    "esia_provider_config",
    "esia_timestamp",
    "generate_private_key",
    "identity_from_esia_person",
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
