"""A hardened OpenID Connect relying party (code flow, PKCE S256, RFC 9207 ``iss``).

The checks are plain functions without I/O (:mod:`.flow`, :mod:`.idtoken`,
:mod:`.identity`, :mod:`.client_auth`); :class:`RelyingParty` runs them with an
:class:`HttpClient` and a clock::

    config = discover(http, "https://idp.example/", client_id=..., redirect_uri=...,
                      client_secret=...)
    rp = RelyingParty(config, http)
    request = rp.start()              # redirect to request.url, keep request.pending
    result = rp.complete(query_params, pending)   # -> LoginResult(identity, tokens)

Every refusal is an :class:`OidcError` (a :class:`~sso_bridge.errors.BridgeError`) with a
stable ``oidc.*`` code. A provider that departs from plain OpenID Connect plugs in through
the hooks of :mod:`.extension`.
"""

import importlib
import warnings
from typing import Any

from sso_bridge.oidc.config import (
    SIGNATURE_ALGORITHMS,
    ClientAuthMethod,
    ProviderConfig,
    config_from_discovery,
    discover,
    register_auth_method,
)
from sso_bridge.oidc.errors import AuthorizationError, IdTokenError, OidcError, TokenError
from sso_bridge.oidc.extension import ClientAuthentication, KeySource, Refusal, TokenAlgorithm
from sso_bridge.oidc.flow import (
    AuthorizationRequest,
    InMemoryStateStore,
    PendingLogin,
    StateStore,
    authorization_request,
    check_callback,
    pkce_challenge,
)
from sso_bridge.oidc.http import HttpClient, HttpResponse, HttpxClient
from sso_bridge.oidc.http_stdlib import StdlibHttpClient
from sso_bridge.oidc.identity import identity_from_claims
from sso_bridge.oidc.idtoken import IdToken, at_hash, validate_id_token
from sso_bridge.oidc.keys import JwksCache, parse_jwks
from sso_bridge.oidc.rp import LoginResult, RelyingParty, TokenSet

__all__ = [
    "SIGNATURE_ALGORITHMS",
    "AuthorizationError",
    "AuthorizationRequest",
    "ClientAuthMethod",
    "ClientAuthentication",
    "HttpClient",
    "HttpResponse",
    "HttpxClient",
    "IdToken",
    "IdTokenError",
    "InMemoryStateStore",
    "JwksCache",
    "KeySource",
    "LoginResult",
    "OidcError",
    "PendingLogin",
    "ProviderConfig",
    "Refusal",
    "RelyingParty",
    "StateStore",
    "StdlibHttpClient",
    "TokenAlgorithm",
    "TokenError",
    "TokenSet",
    "at_hash",
    "authorization_request",
    "check_callback",
    "config_from_discovery",
    "discover",
    "identity_from_claims",
    "parse_jwks",
    "pkce_challenge",
    "register_auth_method",
    "validate_id_token",
]


def __getattr__(name: str) -> Any:
    # Deprecated for one release: identity_from_esia_person moved to sso_bridge.esia.
    if name == "identity_from_esia_person":
        warnings.warn(
            f"sso_bridge.oidc.{name} moved to sso_bridge.esia.person_api",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sso_bridge.esia.person_api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
