"""Per-provider settings of the relying party, given explicitly or read from discovery."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sso_bridge.errors import ConfigError
from sso_bridge.esia import certificates as esia_certificates
from sso_bridge.esia.certificates import RsaCertificate
from sso_bridge.esia.gost import GOST_JWT_ALG, GostCertificate
from sso_bridge.esia.secret import HASH_CASES
from sso_bridge.esia.signer import Signer
from sso_bridge.keytypes import PrivateKey
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.http import HttpClient

SIGNATURE_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
"""Algorithms an allow-list may name. ``none`` and the HMAC family are never accepted:
an ID token is checked with the provider's public keys only."""
TOKEN_ALGORITHMS: Final = SIGNATURE_ALGORITHMS | {GOST_JWT_ALG}
"""Algorithms an ID token may be signed with: the JOSE ones and ESIA's GOST R 34.10-2012."""
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


class ClientAuthMethod(enum.StrEnum):
    """How the client authenticates at the token endpoint."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name
    PRIVATE_KEY_JWT = "private_key_jwt"
    ESIA_CMS = "esia_cms"
    """ESIA v1 (``/ac``, ``/te``): a detached CMS signature over scope, time, client, state."""
    ESIA_GOST = "esia_gost"
    """ESIA v2/v3 (``/v2/ac``, ``/v3/te``): a raw GOST signature and the certificate hash."""


def _algorithms(values: Any) -> tuple[str, ...]:
    algs = (values,) if isinstance(values, str) else tuple(values)
    if not algs:
        raise ConfigError("the algorithm allow-list is empty", code="oidc.config_invalid")
    bad = [alg for alg in algs if alg not in TOKEN_ALGORITHMS]
    if bad:
        raise ConfigError(
            f"algorithms {bad} are not allowed for ID tokens", code="oidc.config_invalid"
        )
    if GOST_JWT_ALG in algs and len(algs) > 1:
        raise ConfigError(
            f"{GOST_JWT_ALG} must be the only algorithm (pin one per provider)",
            code="oidc.config_invalid",
        )
    return algs


def _words(values: Any) -> tuple[str, ...]:
    return tuple(values.split()) if isinstance(values, str) else tuple(values)


def _scopes(values: Any) -> tuple[str, ...]:
    return tuple(values.split()) if isinstance(values, str) else tuple(values)


def _gost_tuple(values: Iterable[GostCertificate]) -> tuple[GostCertificate, ...]:
    return tuple(values)


def _rsa_tuple(values: Iterable[RsaCertificate]) -> tuple[RsaCertificate, ...]:
    return tuple(values)


@attrs.frozen
class ProviderConfig:
    """Everything the relying party knows about one IdP and its own registration there.

    Credentials by ``auth_method``: ``client_secret`` for the ``client_secret_*`` methods;
    ``client_key`` (and ``client_key_id``, the ``kid`` the IdP knows it by) for
    ``private_key_jwt``; ``client_key`` and ``client_certificate`` for ``esia_cms``;
    ``signer`` (and ``scope_org``, organisation scopes) for ``esia_gost``.
    An ID token signed with ``GOST3410_2012_256`` is checked against ``gost_certificates``,
    refreshed from ``certificates_uri`` when set (an RS256 provider uses ``jwks_uri``).
    ``require_at_hash`` makes ``at_hash`` mandatory in ID tokens (OIDC Core 3.1.3.6
    makes it optional in the code flow, so by default it is checked only when present).
    ``skew`` is the clock tolerance on ``exp``, ``iat`` and ``nbf`` (0 to 5 minutes).

    ESIA settings: ``certificate_hash_case`` spells the ``client_certificate_hash`` sent
    (``"upper"``, the default, or ``"lower"``); ``rsa_certificates`` are ESIA's RSA
    signing certificates for an ``RS256`` system (see :attr:`esia_keys_from_certificates`).
    ``scopes`` must include ``openid``, except for an ESIA configuration with
    ``esia_person_api``: without ``openid`` ESIA issues no ID token, and the person is
    the one its access token names.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    client_id: str
    redirect_uri: str
    auth_method: ClientAuthMethod = attrs.field(
        default=ClientAuthMethod.CLIENT_SECRET_BASIC, converter=ClientAuthMethod
    )
    userinfo_endpoint: str | None = None
    algorithms: tuple[str, ...] = attrs.field(default=("RS256",), converter=_algorithms)
    authorization_response_iss_parameter_supported: bool = False
    scopes: tuple[str, ...] = attrs.field(default=("openid",), converter=_scopes)
    extra_authorization_params: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    skew: timedelta = timedelta(seconds=60)
    require_at_hash: bool = False
    client_secret: str | None = attrs.field(default=None, repr=False)
    client_key: PrivateKey | None = attrs.field(default=None, repr=False, eq=False)
    client_key_id: str | None = None
    client_key_alg: str | None = None
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

    def __attrs_post_init__(self) -> None:
        method = self.auth_method
        if method in (ClientAuthMethod.CLIENT_SECRET_BASIC, ClientAuthMethod.CLIENT_SECRET_POST):
            if not self.client_secret:
                raise ConfigError(f"{method} needs a client_secret", code="oidc.config_invalid")
        elif method is ClientAuthMethod.ESIA_GOST:
            if self.signer is None:
                raise ConfigError("esia_gost needs a signer", code="oidc.config_invalid")
        elif self.client_key is None:
            raise ConfigError(f"{method} needs a client_key", code="oidc.config_invalid")
        if method is ClientAuthMethod.ESIA_CMS and self.client_certificate is None:
            raise ConfigError("esia_cms needs a client_certificate", code="oidc.config_invalid")
        if self.client_key_alg is not None and self.client_key_alg not in SIGNATURE_ALGORITHMS:
            raise ConfigError(
                f"client_key_alg {self.client_key_alg!r} is not allowed", code="oidc.config_invalid"
            )
        if (
            GOST_JWT_ALG in self.algorithms
            and not self.gost_certificates
            and self.certificates_uri is None
        ):
            raise ConfigError(
                f"{GOST_JWT_ALG} tokens need gost_certificates or a certificates_uri",
                code="oidc.config_invalid",
            )
        self._check_scopes()
        if self.certificate_hash_case not in HASH_CASES:
            raise ConfigError(
                f"certificate_hash_case is 'upper' or 'lower', not {self.certificate_hash_case!r}",
                code="oidc.config_invalid",
            )
        if self.esia_access_type not in ("online", "offline"):
            raise ConfigError("esia_access_type is online or offline", code="oidc.config_invalid")
        if not timedelta(0) <= self.skew <= timedelta(minutes=5):
            raise ConfigError("skew must be between 0 and 5 minutes", code="oidc.config_invalid")
        reserved = {"state", "nonce", "code_challenge", "client_id", "redirect_uri", "scope"}
        clash = reserved.intersection(self.extra_authorization_params)
        if clash:
            raise ConfigError(
                f"extra authorization parameters may not set {sorted(clash)}",
                code="oidc.config_invalid",
            )

    def _check_scopes(self) -> None:
        if not self.scopes:
            raise ConfigError("scopes must not be empty", code="oidc.config_invalid")
        if "openid" in self.scopes:
            return
        if not self.esia or self.esia_person_api is None:
            raise ConfigError(
                "scopes must include openid (only an ESIA configuration with "
                "esia_person_api may leave it out)",
                code="oidc.config_invalid",
            )

    @property
    def esia(self) -> bool:
        """True for ESIA (``esia_cms`` or ``esia_gost`` client authentication)."""
        return self.auth_method in (ClientAuthMethod.ESIA_CMS, ClientAuthMethod.ESIA_GOST)

    @property
    def id_token_expected(self) -> bool:
        """False for an ESIA configuration whose scopes leave out ``openid``: its token
        answer may carry no ID token, and the access token names the person."""
        return not self.esia or "openid" in self.scopes

    @property
    def esia_keys_from_certificates(self) -> bool:
        """Whether tokens are checked with ESIA's certificates (pinned, and published at
        ``certificates_uri``) rather than a JWKS: always for ``GOST3410_2012_256``; for an
        ESIA ``RS256`` system when RSA certificates are configured, or when the keys are
        published at ``certificates_uri`` and no other ``jwks_uri`` is given."""
        if GOST_JWT_ALG in self.algorithms:
            return True
        if not self.esia:
            return False
        return bool(self.rsa_certificates) or (
            self.certificates_uri is not None and self.jwks_uri == self.certificates_uri
        )

    @property
    def scope(self) -> str:
        """The scopes as the ``scope`` parameter spells them."""
        return " ".join(self.scopes)

    @property
    def esia_v2(self) -> bool:
        """True for ESIA's v2/v3 protocol (GOST client secret, no nonce, echoed state)."""
        return self.auth_method is ClientAuthMethod.ESIA_GOST

    @property
    def signing_alg(self) -> str:
        """The ``private_key_jwt`` algorithm: as configured, else by the key's type."""
        if self.client_key_alg:
            return self.client_key_alg
        return "ES256" if isinstance(self.client_key, ec.EllipticCurvePrivateKey) else "RS256"


def config_from_discovery(
    document: Mapping[str, Any], expected_issuer: str, **settings: Any
) -> ProviderConfig:
    """A :class:`ProviderConfig` from a discovery document plus the client's ``settings``.

    The document's ``issuer`` must equal ``expected_issuer`` exactly (OIDC Discovery §4.3),
    else ``oidc.discovery_issuer_mismatch``. ``algorithms`` is not taken from the document:
    the allow-list is the caller's (default RS256).
    """
    issuer = document.get("issuer")
    if issuer != expected_issuer:
        raise OidcError(
            f"discovery names issuer {issuer!r}, expected {expected_issuer!r}",
            code="oidc.discovery_issuer_mismatch",
        )
    endpoints: dict[str, Any] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise OidcError(f"discovery lacks {name}", code="oidc.discovery_invalid")
        endpoints[name] = value
    userinfo = document.get("userinfo_endpoint")
    return ProviderConfig(
        issuer=expected_issuer,
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        authorization_response_iss_parameter_supported=(
            document.get("authorization_response_iss_parameter_supported") is True
        ),
        **endpoints,
        **settings,
    )


def discover(http: HttpClient, expected_issuer: str, **settings: Any) -> ProviderConfig:
    """Fetch ``{issuer}/.well-known/openid-configuration`` and build the config from it."""
    url = expected_issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = http.get(url, headers={"Accept": "application/json"})
    if response.status != 200:
        raise OidcError(f"discovery answered HTTP {response.status}", code="oidc.discovery_invalid")
    return config_from_discovery(response.json_object("discovery"), expected_issuer, **settings)


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
                raise ConfigError(
                    "an ESIA certificate must have an RSA key of at least 2048 bits or a "
                    "GOST R 34.10-2012-256 key",
                    code="oidc.config_invalid",
                )
        else:
            raise ConfigError(
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
) -> ProviderConfig:
    """A :class:`ProviderConfig` for ESIA, which publishes no discovery document.

    ``version="v2"`` (the default) uses ``/aas/oauth2/v2/ac`` and ``/aas/oauth2/v3/te``
    with ``esia_gost`` client authentication by ``signer``; ``"v1"`` keeps the older
    ``/ac`` and ``/te`` with ``esia_cms`` (pass ``client_key`` and ``client_certificate``).
    ``token_alg`` pins the token algorithm this system was registered with.
    ``certificates`` are ESIA's signing certificates: certificate objects, or paths of
    certificate files (PEM or DER), directories of them, or zip archives of them (ESIA's
    download); GOST ones check GOST tokens, RSA ones RS256 tokens. ``certificates_uri`` is
    where fresh ones are published (a zip archive, or the JSON list of PEM). An ``RS256``
    system given neither certificates nor a ``certificates_uri`` nor a ``jwks_uri`` reads
    ``{base_url}/aas/oauth2/certificates.zip``; given a ``jwks_uri`` of its own (and no
    RSA certificates), it uses that JWKS. ``issuer`` defaults to ``http://<host>/``, the
    form ESIA's tokens carry. Other ``settings`` (``scope_org``, ``esia_person_api``,
    ``skew``, ``certificate_hash_case``, ...) pass through.
    """
    if version not in ESIA_PATHS:
        raise ConfigError(f"ESIA version {version!r} is not v1 or v2", code="oidc.config_invalid")
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.netloc:
        raise ConfigError(f"{base_url!r} is not an absolute URL", code="oidc.config_invalid")
    base = base_url.rstrip("/")
    authorize, token = ESIA_PATHS[version]
    method = ClientAuthMethod.ESIA_GOST if version == "v2" else ClientAuthMethod.ESIA_CMS
    gost_certificates, rsa_certificates = _esia_certificates(certificates)
    archive = base + ESIA_CERTIFICATES_ARCHIVE_PATH
    if (
        token_alg != GOST_JWT_ALG
        and not rsa_certificates
        and certificates_uri is None
        and "jwks_uri" not in settings
    ):
        certificates_uri = archive
    settings.setdefault("jwks_uri", certificates_uri or archive)
    settings.setdefault("esia_person_api", base)
    return ProviderConfig(
        issuer=issuer if issuer is not None else f"http://{parts.netloc}/",
        authorization_endpoint=base + authorize,
        token_endpoint=base + token,
        client_id=client_id,
        redirect_uri=redirect_uri,
        auth_method=method,
        signer=signer,
        scopes=scopes,
        algorithms=(token_alg,),
        gost_certificates=gost_certificates,
        rsa_certificates=rsa_certificates,
        certificates_uri=certificates_uri,
        **settings,
    )
