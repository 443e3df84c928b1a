"""ESIA's configuration: an OpenID Connect provider profile with its own rules.

:class:`EsiaConfig` is a :class:`~sso_bridge.oidc.config.ProviderConfig` whose hooks (see
:mod:`sso_bridge.oidc.extension`) give ESIA's client authentication (v2/v3 GOST, v1 CMS:
:mod:`sso_bridge.esia.client_auth`), its ``state`` (a UUID) and missing ``nonce`` on
v2, the ``GOST3410_2012_256`` token algorithm, ESIA's error numbers (``esia.*`` codes), and
logins without ``openid`` whose subject is the access token's. A relying party built for it
is an :class:`~sso_bridge.esia.provider.EsiaRelyingParty`. :func:`esia_provider_config`
fills in the endpoints, since ESIA publishes no discovery document.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sso_bridge.esia import certificates as esia_certificates
from sso_bridge.esia.certificates import RsaCertificate
from sso_bridge.esia.client_auth import CmsClientSecret, GostClientSecret, esia_state
from sso_bridge.esia.errors import EsiaAuthorizationError, EsiaTokenError
from sso_bridge.esia.errors_table import esia_refusal
from sso_bridge.esia.gost import GOST_JWT_ALG, MAX_GOST_TOKEN_LENGTH, GostCertificate, streebog256
from sso_bridge.esia.secret import HASH_CASES
from sso_bridge.esia.signer import Signer
from sso_bridge.oidc.config import SIGNATURE_ALGORITHMS, ProviderConfig, register_auth_method
from sso_bridge.oidc.extension import ClientAuthentication, Refusal, TokenAlgorithm
from sso_bridge.token_errors import OidcConfigError

__all__ = [
    "ESIA_CERTIFICATES_ARCHIVE_PATH",
    "ESIA_CERTIFICATES_PATH",
    "ESIA_LOGOUT_PATH",
    "ESIA_PATHS",
    "GOST_TOKEN_ALGORITHM",
    "TOKEN_ALGORITHMS",
    "EsiaAuthMethod",
    "EsiaConfig",
    "esia_provider_config",
]

GOST_TOKEN_ALGORITHM: Final = TokenAlgorithm(
    GOST_JWT_ALG, streebog256, max_token_length=MAX_GOST_TOKEN_LENGTH, exclusive=True
)
"""``GOST3410_2012_256``: Streebog-256 for ``at_hash``; tokens over 4,096 characters are
refused before they are hashed (Streebog runs in Python)."""
TOKEN_ALGORITHMS: Final = SIGNATURE_ALGORITHMS | {GOST_JWT_ALG}
"""Algorithms an ESIA token may be signed with: the JOSE ones and GOST R 34.10-2012."""
ESIA_PATHS: Final = {
    "v1": ("/aas/oauth2/ac", "/aas/oauth2/te"),
    "v2": ("/aas/oauth2/v2/ac", "/aas/oauth2/v3/te"),
}
"""ESIA's authorization and token endpoint paths by protocol version."""
ESIA_CERTIFICATES_PATH: Final = "/aas/oauth2/certificates"
"""Where the mock IdP (and earlier versions of this library) publish the JSON list of PEM."""
ESIA_CERTIFICATES_ARCHIVE_PATH: Final = "/aas/oauth2/certificates.zip"
"""Where :func:`esia_provider_config` looks for ESIA's zip archive of certificates by default."""
ESIA_LOGOUT_PATH: Final = "/idp/ext/Logout"


class EsiaAuthMethod(enum.StrEnum):
    """ESIA's client authentication methods."""

    CMS = "esia_cms"
    """ESIA v1 (``/ac``, ``/te``): a detached CMS signature over scope, time, client, state."""
    GOST = "esia_gost"
    """ESIA v2/v3 (``/v2/ac``, ``/v3/te``): a raw GOST signature and the certificate hash."""


def _words(values: Any) -> tuple[str, ...]:
    return tuple(values.split()) if isinstance(values, str) else tuple(values)


def _gost_tuple(values: Iterable[GostCertificate]) -> tuple[GostCertificate, ...]:
    return tuple(values)


def _rsa_tuple(values: Iterable[RsaCertificate]) -> tuple[RsaCertificate, ...]:
    return tuple(values)


@attrs.frozen
class EsiaConfig(ProviderConfig):
    """ESIA's settings besides those of any provider.

    Credentials by ``auth_method``: ``signer`` (and ``scope_org``, organisation scopes)
    for ``esia_gost``; ``client_key`` and ``client_certificate`` for ``esia_cms``.
    A token signed with ``GOST3410_2012_256`` is checked against ``gost_certificates``,
    refreshed from ``certificates_uri`` when set (an RS256 system uses ``jwks_uri``, or
    ``rsa_certificates``: see :attr:`esia_keys_from_certificates`).
    ``certificate_hash_case`` spells the ``client_certificate_hash`` sent (``"upper"``,
    the default, or ``"lower"``); ``esia_access_type`` is ``online`` or ``offline``.
    ``esia_person_api`` (ESIA's base URL) makes the identity come from the person API;
    with it, ``scopes`` may leave out ``openid``: ESIA then issues no ID token, and the
    person is the one its access token names.
    """

    auth_method: str = attrs.field(default=EsiaAuthMethod.GOST, converter=EsiaAuthMethod)
    token_algorithms: tuple[TokenAlgorithm, ...] = attrs.field(
        default=(GOST_TOKEN_ALGORITHM,), converter=tuple
    )
    client_certificate: x509.Certificate | None = attrs.field(default=None, eq=False)
    esia_person_api: str | None = None
    signer: Signer | None = attrs.field(default=None, repr=False, eq=False)
    scope_org: tuple[str, ...] = attrs.field(default=(), converter=_words)
    gost_certificates: tuple[GostCertificate, ...] = attrs.field(
        default=(), converter=_gost_tuple, repr=False
    )
    certificates_uri: str | None = None
    esia_access_type: str = "online"
    certificate_hash_case: str = "upper"
    rsa_certificates: tuple[RsaCertificate, ...] = attrs.field(
        default=(), converter=_rsa_tuple, repr=False
    )

    def check(self) -> None:
        if self.scopes and "openid" not in self.scopes and self.esia_person_api is None:
            raise OidcConfigError(
                "scopes must include openid (only an ESIA configuration with "
                "esia_person_api may leave it out)",
                code="oidc.config_invalid",
            )
        super().check()
        if (
            GOST_JWT_ALG in self.algorithms
            and not self.gost_certificates
            and self.certificates_uri is None
        ):
            raise OidcConfigError(
                f"{GOST_JWT_ALG} tokens need gost_certificates or a certificates_uri",
                code="oidc.config_invalid",
            )
        if self.certificate_hash_case not in HASH_CASES:
            raise OidcConfigError(
                f"certificate_hash_case is 'upper' or 'lower', not {self.certificate_hash_case!r}",
                code="oidc.config_invalid",
            )
        if self.esia_access_type not in ("online", "offline"):
            raise OidcConfigError(
                "esia_access_type is online or offline", code="oidc.config_invalid"
            )

    def check_credentials(self) -> None:
        if self.auth_method is EsiaAuthMethod.GOST:
            if self.signer is None:
                raise OidcConfigError("esia_gost needs a signer", code="oidc.config_invalid")
            return
        if self.client_key is None:
            raise OidcConfigError("esia_cms needs a client_key", code="oidc.config_invalid")
        if self.client_certificate is None:
            raise OidcConfigError("esia_cms needs a client_certificate", code="oidc.config_invalid")

    @property
    def esia(self) -> bool:
        """Always True: kept for code that told ESIA configurations apart by it."""
        return True

    @property
    def esia_v2(self) -> bool:
        """True for ESIA's v2/v3 protocol (GOST client secret, no nonce, echoed state)."""
        return self.auth_method is EsiaAuthMethod.GOST

    @property
    def esia_keys_from_certificates(self) -> bool:
        """Whether tokens are checked with ESIA's certificates (pinned, and published at
        ``certificates_uri``) rather than a JWKS: always for ``GOST3410_2012_256``; for an
        ``RS256`` system when RSA certificates are configured, or when the keys are
        published at ``certificates_uri`` and no other ``jwks_uri`` is given."""
        if GOST_JWT_ALG in self.algorithms:
            return True
        return bool(self.rsa_certificates) or (
            self.certificates_uri is not None and self.jwks_uri == self.certificates_uri
        )

    # -- the hooks of sso_bridge.oidc.extension ------------------------------------------

    def client_authentication(self) -> ClientAuthentication:
        return GostClientSecret() if self.esia_v2 else CmsClientSecret()

    def new_state(self) -> str:
        return esia_state() if self.esia_v2 else super().new_state()

    @property
    def sends_nonce(self) -> bool:
        """ESIA v2 does not reliably return a ``nonce``: none is sent or checked."""
        return not self.esia_v2

    @property
    def openid_optional(self) -> bool:
        return self.esia_person_api is not None

    @property
    def id_token_expected(self) -> bool:
        """False when the scopes leave out ``openid``: the token answer may carry no ID
        token, and the access token names the person."""
        return "openid" in self.scopes

    def refusal(
        self, error: str | None, description: str | None, *, status: int | None = None
    ) -> Refusal | None:
        """ESIA's ``ESIA-0NNNNN`` number in ``description``, read by
        :func:`~sso_bridge.esia.errors_table.esia_refusal`."""
        found = esia_refusal(description)
        if found is None:
            return None
        what = "the login" if status is None else f"the token request (HTTP {status})"
        message = f"ESIA refused {what} with {found.number}: {found.advice}"
        return Refusal(found.code, message, EsiaAuthorizationError, EsiaTokenError)

    def relying_party_type(self) -> type[Any]:
        from sso_bridge.esia.provider import EsiaRelyingParty  # noqa: PLC0415 - it imports this

        return EsiaRelyingParty


register_auth_method(EsiaAuthMethod.CMS, EsiaConfig)
register_auth_method(EsiaAuthMethod.GOST, EsiaConfig)


def _esia_certificates(
    given: Iterable[Any],
) -> tuple[tuple[GostCertificate, ...], tuple[RsaCertificate, ...]]:
    """Certificates given as objects (GOST, RSA, ``x509.Certificate``) or as paths of
    certificate files, directories and zip archives; split by algorithm."""
    gost_found: list[GostCertificate] = []
    rsa_found: list[RsaCertificate] = []
    paths: list[str | os.PathLike[str]] = []
    for item in given:
        if isinstance(item, GostCertificate):
            gost_found.append(item)
        elif isinstance(item, RsaCertificate):
            rsa_found.append(item)
        elif isinstance(item, str | os.PathLike):
            paths.append(item)
        elif isinstance(item, x509.Certificate):
            loaded = esia_certificates.load_esia_certificate(
                item.public_bytes(serialization.Encoding.DER)
            )
            if isinstance(loaded, RsaCertificate):
                rsa_found.append(loaded)
            elif isinstance(loaded, GostCertificate):
                gost_found.append(loaded)
            else:
                raise OidcConfigError(
                    "an ESIA certificate must have an RSA key of at least 2048 bits or a "
                    "GOST R 34.10-2012-256 key",
                    code="oidc.config_invalid",
                )
        else:
            raise OidcConfigError(
                f"an ESIA certificate must be a certificate or a path, not {type(item).__name__}",
                code="oidc.config_invalid",
            )
    if paths:
        found = esia_certificates.certificates_from_paths(paths)
        gost_found.extend(found.gost)
        rsa_found.extend(found.rsa)
    return tuple(gost_found), tuple(rsa_found)


def esia_provider_config(
    base_url: str,
    client_id: str,
    signer: Signer | None,
    redirect_uri: str,
    scopes: Any,
    *,
    token_alg: str = GOST_JWT_ALG,
    certificates: Iterable[Any] = (),
    certificates_uri: str | None = None,
    issuer: str | None = None,
    version: str = "v2",
    **settings: Any,
) -> EsiaConfig:
    """An :class:`EsiaConfig` for ESIA, which publishes no discovery document.

    ``version="v2"`` (default): ``/aas/oauth2/v2/ac`` and ``/aas/oauth2/v3/te``, ``esia_gost``
    client authentication by ``signer``; ``"v1"``: ``/ac`` and ``/te``, ``esia_cms`` (pass
    ``client_key`` and ``client_certificate``). ``token_alg``: the registered token algorithm.
    ``certificates``: ESIA's signing certificates (objects, or paths of PEM or DER files,
    directories or zip archives of them); GOST ones check GOST tokens, RSA ones RS256.
    ``certificates_uri``: where fresh ones are published (a zip archive or a JSON list of
    PEM). An RS256 system with no certificates, ``certificates_uri`` or ``jwks_uri`` reads
    ``{base_url}/aas/oauth2/certificates.zip``; with a ``jwks_uri`` of its own (and no RSA
    certificates), that JWKS. ``issuer`` defaults to ``http://<host>/``, as ESIA's tokens
    carry it. Other ``settings`` (``scope_org``, ``esia_person_api``, ...) pass through.
    """
    base, host = _esia_base(base_url, version)
    gost_certificates, rsa_certificates = _esia_certificates(certificates)
    archive = base + ESIA_CERTIFICATES_ARCHIVE_PATH
    if _reads_archive(token_alg, rsa_certificates, certificates_uri, settings):
        certificates_uri = archive
    settings.setdefault("jwks_uri", certificates_uri or archive)
    settings.setdefault("esia_person_api", base)
    settings.setdefault("end_session_endpoint", base + ESIA_LOGOUT_PATH)
    return EsiaConfig(
        issuer=issuer if issuer is not None else f"http://{host}/",
        authorization_endpoint=base + ESIA_PATHS[version][0],
        token_endpoint=base + ESIA_PATHS[version][1],
        client_id=client_id,
        redirect_uri=redirect_uri,
        auth_method=EsiaAuthMethod.GOST if version == "v2" else EsiaAuthMethod.CMS,
        signer=signer,
        scopes=scopes,
        algorithms=(token_alg,),
        gost_certificates=gost_certificates,
        rsa_certificates=rsa_certificates,
        certificates_uri=certificates_uri,
        **settings,
    )


def _esia_base(base_url: str, version: str) -> tuple[str, str]:
    """``base_url`` without its trailing slash, and its host; ``oidc.config_invalid`` for
    an unknown ``version`` or a relative URL."""
    if version not in ESIA_PATHS:
        raise OidcConfigError(
            f"ESIA version {version!r} is not v1 or v2", code="oidc.config_invalid"
        )
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.netloc:
        raise OidcConfigError(f"{base_url!r} is not an absolute URL", code="oidc.config_invalid")
    return base_url.rstrip("/"), parts.netloc


def _reads_archive(
    token_alg: str,
    rsa_certificates: tuple[RsaCertificate, ...],
    certificates_uri: str | None,
    settings: Mapping[str, Any],
) -> bool:
    """Whether an RS256 system has nothing else to check its tokens with than ESIA's
    certificate archive."""
    return (
        token_alg != GOST_JWT_ALG
        and not rsa_certificates
        and certificates_uri is None
        and "jwks_uri" not in settings
    )
