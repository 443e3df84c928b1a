"""The token request body and headers for each client authentication method, without I/O."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from jose import jwt

from sso_bridge.oidc.config import ClientAuthMethod, ProviderConfig
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.flow import esia_gost_params, esia_secret_params, esia_state

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


def token_request(
    config: ProviderConfig, code: str, code_verifier: str, now: datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of an ``authorization_code`` token request.

    For ``esia_gost`` (ESIA's ``v3/te``) the form carries a fresh ``state`` UUID of its own
    and a fresh timestamp, signed together with the code; the answer must echo that state.
    """
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Accept": "application/json"}
    method = config.auth_method
    if method is ClientAuthMethod.CLIENT_SECRET_BASIC:
        # RFC 6749 §2.3.1: each part is form-encoded before the Basic encoding.
        pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret or '', safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    elif method is ClientAuthMethod.CLIENT_SECRET_POST:
        data.update(client_id=config.client_id, client_secret=config.client_secret or "")
    elif method is ClientAuthMethod.PRIVATE_KEY_JWT:
        data.update(
            client_id=config.client_id,
            client_assertion_type=CLIENT_ASSERTION_TYPE,
            client_assertion=client_assertion(config, now),
        )
    elif method is ClientAuthMethod.ESIA_GOST:
        data.update(esia_gost_params(config, esia_state(), now, code))
        data["token_type"] = "Bearer"  # noqa: S105 - ESIA's token type, not a secret
    else:
        # ESIA signs scope + timestamp + client_id + state again, with a fresh state.
        state = secrets.token_urlsafe(32)
        data.update(client_id=config.client_id, scope=config.scope, state=state)
        data["token_type"] = "Bearer"  # noqa: S105 - ESIA's token type, not a secret
        data.update(esia_secret_params(config, state, now))
    return data, headers
