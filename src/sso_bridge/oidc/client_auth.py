"""The token request body and headers for each client authentication method, without I/O."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote

from jose import jwt

from sso_bridge.oidc.config import ClientAuthMethod, ProviderConfig
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.extension import ClientAuthentication

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ASSERTION_LIFETIME = timedelta(seconds=60)


def client_assertion(config: ProviderConfig, now: datetime) -> str:
    """A ``private_key_jwt`` assertion (RFC 7523): iss = sub = client_id, aud = token
    endpoint, a fresh ``jti``, short ``exp``; signed with the client's key."""
    if config.client_key is None:
        raise OidcError("private_key_jwt needs a client_key", code="oidc.config_invalid")
    issued = int(now.timestamp())
    claims = {
        "iss": config.client_id,
        "sub": config.client_id,
        "aud": config.token_endpoint,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + int(CLIENT_ASSERTION_LIFETIME.total_seconds()),
    }
    headers = {"kid": config.client_key_id} if config.client_key_id else None
    token: str = jwt.encode(
        claims, config.client_key, algorithm=config.signing_alg, headers=headers
    )
    return token


class StandardClientAuthentication:
    """The methods of OAuth 2.0 and OIDC Core §9 that ``config.auth_method`` names:
    ``client_secret_basic``, ``client_secret_post`` and ``private_key_jwt``. They add
    nothing to the authorization request."""

    def authorization_params(
        self, config: ProviderConfig, state: str, now: datetime
    ) -> Mapping[str, str]:
        return {}

    def token_params(
        self, config: ProviderConfig, code: str, now: datetime
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        method = config.auth_method
        if method is ClientAuthMethod.CLIENT_SECRET_BASIC:
            # RFC 6749 §2.3.1: each part is form-encoded before the Basic encoding.
            user = quote(config.client_id, safe="")
            pair = f"{user}:{quote(config.client_secret or '', safe='')}"
            basic = base64.b64encode(pair.encode()).decode("ascii")
            return {}, {"Authorization": "Basic " + basic}
        if method is ClientAuthMethod.CLIENT_SECRET_POST:
            return {"client_id": config.client_id, "client_secret": config.client_secret or ""}, {}
        if method is ClientAuthMethod.PRIVATE_KEY_JWT:
            return {
                "client_id": config.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": client_assertion(config, now),
            }, {}
        raise OidcError(f"{method!r} is not a standard method", code="oidc.config_invalid")


STANDARD: ClientAuthentication = StandardClientAuthentication()


def token_request(
    config: ProviderConfig, code: str, code_verifier: str, now: datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of an ``authorization_code`` token request, with what the
    config's client authentication adds (a standard method unless a profile has its own)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Accept": "application/json"}
    authentication = config.client_authentication() or STANDARD
    more_data, more_headers = authentication.token_params(config, code, now)
    data.update(more_data)
    headers.update(more_headers)
    return data, headers
