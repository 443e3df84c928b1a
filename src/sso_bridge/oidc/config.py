"""Per-provider settings of the relying party, given explicitly or read from discovery."""

from __future__ import annotations

import enum
import importlib
import secrets
import warnings
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from sso_bridge.keytypes import PrivateKey
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.extension import ClientAuthentication, Refusal, TokenAlgorithm
from sso_bridge.oidc.http import HttpClient
from sso_bridge.token_errors import OidcConfigError

SIGNATURE_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
"""Algorithms an allow-list may name. ``none`` and the HMAC family are never accepted:
an ID token is checked with the provider's public keys only. A provider profile may add
its own (:class:`~sso_bridge.oidc.extension.TokenAlgorithm`)."""

_CONFIG_TYPES: dict[str, type[ProviderConfig]] = {}
# Deprecated for one release: client authentication methods whose configuration moved
# out of this package, and the module that registers them on import.
_MOVED_METHODS: Final = {
    "esia_cms": "sso_bridge.esia.config",
    "esia_gost": "sso_bridge.esia.config",
}


class ClientAuthMethod(enum.StrEnum):
    """How the client authenticates at the token endpoint (the standard methods)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name
    PRIVATE_KEY_JWT = "private_key_jwt"


def register_auth_method(name: str, config_type: type[ProviderConfig]) -> None:
    """Make ``ProviderConfig(auth_method=name, ...)`` build a ``config_type``: the config
    subclass of the provider profile that defines that client authentication method."""
    _CONFIG_TYPES[name] = config_type


def _config_type(method: object) -> type[ProviderConfig] | None:
    if not isinstance(method, str) or method in ClientAuthMethod.__members__.values():
        return None
    if method not in _CONFIG_TYPES and method in _MOVED_METHODS:
        warnings.warn(
            f"ProviderConfig(auth_method={method!r}) is deprecated: build the provider's "
            f"configuration with {_MOVED_METHODS[method]}",
            DeprecationWarning,
            stacklevel=4,
        )
        importlib.import_module(_MOVED_METHODS[method])
    return _CONFIG_TYPES.get(method)


def _auth_method(value: Any) -> str:
    text = str(value)
    return ClientAuthMethod(text) if text in ClientAuthMethod.__members__.values() else text


def _strings(values: Any) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


def _scopes(values: Any) -> tuple[str, ...]:
    return tuple(values.split()) if isinstance(values, str) else tuple(values)


@attrs.frozen
class ProviderConfig:
    """Everything the relying party knows about one IdP and its own registration there.

    Credentials by ``auth_method``: ``client_secret`` for the ``client_secret_*`` methods;
    ``client_key`` (and ``client_key_id``, the ``kid`` the IdP knows it by) for
    ``private_key_jwt``. ``algorithms`` is the allow-list of ID token algorithms: those
    of :data:`SIGNATURE_ALGORITHMS`, and those of ``token_algorithms`` (algorithms a
    provider profile brings). ``require_at_hash`` makes ``at_hash`` mandatory in ID tokens
    (OIDC Core 3.1.3.6 makes it optional in the code flow, so by default it is checked only
    when present). ``skew`` is the clock tolerance on ``exp``, ``iat`` and ``nbf`` (0 to
    5 minutes). ``scopes`` must include ``openid``.

    A provider profile that departs from plain OpenID Connect subclasses this class and
    overrides the hooks listed in :mod:`sso_bridge.oidc.extension`; a subclass registered
    with :func:`register_auth_method` is what ``ProviderConfig(auth_method=...)`` builds
    for its method.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    client_id: str
    redirect_uri: str
    auth_method: str = attrs.field(
        default=ClientAuthMethod.CLIENT_SECRET_BASIC, converter=_auth_method
    )
    userinfo_endpoint: str | None = None
    algorithms: tuple[str, ...] = attrs.field(default=("RS256",), converter=_strings)
    authorization_response_iss_parameter_supported: bool = False
    scopes: tuple[str, ...] = attrs.field(default=("openid",), converter=_scopes)
    extra_authorization_params: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    skew: timedelta = timedelta(seconds=60)
    require_at_hash: bool = False
    client_secret: str | None = attrs.field(default=None, repr=False)
    client_key: PrivateKey | None = attrs.field(default=None, repr=False, eq=False)
    client_key_id: str | None = None
    client_key_alg: str | None = None
    token_algorithms: tuple[TokenAlgorithm, ...] = attrs.field(default=(), converter=tuple)
    end_session_endpoint: str | None = None
    """Where the browser goes to log out at the IdP (OpenID Connect RP-Initiated Logout)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> ProviderConfig:
        wanted = _config_type(kwargs.get("auth_method")) if cls is ProviderConfig else None
        return super().__new__(wanted if wanted is not None else cls)

    def __attrs_post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse settings that cannot work (``oidc.config_invalid``); a subclass adds its
        own checks and calls this one."""
        self.check_credentials()
        if self.client_key_alg is not None and self.client_key_alg not in SIGNATURE_ALGORITHMS:
            raise OidcConfigError(
                f"client_key_alg {self.client_key_alg!r} is not allowed", code="oidc.config_invalid"
            )
        self._check_algorithms()
        if not self.scopes:
            raise OidcConfigError("scopes must not be empty", code="oidc.config_invalid")
        if "openid" not in self.scopes and not self.openid_optional:
            raise OidcConfigError("scopes must include openid", code="oidc.config_invalid")
        if not timedelta(0) <= self.skew <= timedelta(minutes=5):
            raise OidcConfigError(
                "skew must be between 0 and 5 minutes", code="oidc.config_invalid"
            )
        reserved = {"state", "nonce", "code_challenge", "client_id", "redirect_uri", "scope"}
        clash = reserved.intersection(self.extra_authorization_params)
        if clash:
            raise OidcConfigError(
                f"extra authorization parameters may not set {sorted(clash)}",
                code="oidc.config_invalid",
            )

    def check_credentials(self) -> None:
        """The credentials ``auth_method`` needs are there (hook: a profile's own methods)."""
        method = self.auth_method
        if method in (ClientAuthMethod.CLIENT_SECRET_BASIC, ClientAuthMethod.CLIENT_SECRET_POST):
            if not self.client_secret:
                raise OidcConfigError(f"{method} needs a client_secret", code="oidc.config_invalid")
        elif method is ClientAuthMethod.PRIVATE_KEY_JWT:
            if self.client_key is None:
                raise OidcConfigError(f"{method} needs a client_key", code="oidc.config_invalid")
        else:
            raise OidcConfigError(
                f"auth_method {method!r} is not a client authentication method",
                code="oidc.config_invalid",
            )

    def _check_algorithms(self) -> None:
        algs = self.algorithms
        if not algs:
            raise OidcConfigError("the algorithm allow-list is empty", code="oidc.config_invalid")
        bad = [
            alg for alg in algs if alg not in SIGNATURE_ALGORITHMS and not self.token_algorithm(alg)
        ]
        if bad:
            raise OidcConfigError(
                f"algorithms {bad} are not allowed for ID tokens", code="oidc.config_invalid"
            )
        for alg in algs:
            own = self.token_algorithm(alg)
            if own is not None and own.exclusive and len(algs) > 1:
                raise OidcConfigError(
                    f"{alg} must be the only algorithm (pin one per provider)",
                    code="oidc.config_invalid",
                )

    def token_algorithm(self, alg: str) -> TokenAlgorithm | None:
        """The profile's own algorithm named ``alg``; None for a JOSE one (or none)."""
        if not self.token_algorithms:  # plain OpenID Connect: asked for every token
            return None
        return next((own for own in self.token_algorithms if own.name == alg), None)

    @property
    def scope(self) -> str:
        """The scopes as the ``scope`` parameter spells them."""
        return " ".join(self.scopes)

    @property
    def signing_alg(self) -> str:
        """The ``private_key_jwt`` algorithm: as configured, else by the key's type."""
        if self.client_key_alg:
            return self.client_key_alg
        return "ES256" if isinstance(self.client_key, ec.EllipticCurvePrivateKey) else "RS256"

    # -- hooks of a provider profile (see sso_bridge.oidc.extension) --------------------

    def client_authentication(self) -> ClientAuthentication | None:
        """The client authentication; None: the standard method ``auth_method`` names."""
        return None

    def new_state(self) -> str:
        """A fresh ``state`` for an authorization request."""
        return secrets.token_urlsafe(32)

    @property
    def sends_nonce(self) -> bool:
        """Whether the authorization request carries a ``nonce`` the ID token must echo."""
        return True

    @property
    def openid_optional(self) -> bool:
        """Whether ``scopes`` may leave out ``openid``."""
        return False

    @property
    def id_token_expected(self) -> bool:
        """Whether the token answer must carry an ID token."""
        return True

    def refusal(
        self, error: str | None, description: str | None, *, status: int | None = None
    ) -> Refusal | None:
        """The profile's reading of an IdP error: of the authorization request when
        ``status`` is None, else of the token request answered with HTTP ``status``.
        None: the OAuth ``error`` decides the code."""
        return None

    def relying_party_type(self) -> type[Any] | None:
        """The :class:`~sso_bridge.oidc.rp.RelyingParty` subclass this config needs."""
        return None


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
    end_session = document.get("end_session_endpoint")
    if isinstance(end_session, str) and end_session and "end_session_endpoint" not in settings:
        settings["end_session_endpoint"] = end_session
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


_MOVED_NAMES: Final = frozenset(
    {
        "ESIA_CERTIFICATES_ARCHIVE_PATH",
        "ESIA_CERTIFICATES_PATH",
        "ESIA_LOGOUT_PATH",
        "ESIA_PATHS",
        "TOKEN_ALGORITHMS",
        "esia_provider_config",
    }
)


def __getattr__(name: str) -> Any:
    # Deprecated for one release: these moved to sso_bridge.esia.config.
    if name in _MOVED_NAMES:
        warnings.warn(
            f"sso_bridge.oidc.config.{name} moved to sso_bridge.esia.config",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sso_bridge.esia.config"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
