"""The token endpoint of the mock IdP's OIDC side: client authentication by the client's
registered method, the code and refresh grants, and the tokens they give.

Access tokens are signed JWTs (:func:`mock_idp.tokens.access_token_claims`), still kept in
the provider's own table so that revoking and expiring them works; a code used twice
revokes what its first use gave (RFC 6749 §4.1.2); a refresh token comes only with an
offline grant and is rotated; PKCE is checked as ESIA checks it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mock_idp import client_auth, esia_v2
from mock_idp.clients import Client
from mock_idp.errors import EsiaError
from mock_idp.grants import (
    ACCESS_TOKEN_LIFETIME,
    ID_TOKEN_LIFETIME,
    AccessToken,
    Grant,
    ProviderState,
)
from mock_idp.keys import GostSigningKey, SigningKey
from mock_idp.tokens import (
    TokenFault,
    access_token_claims,
    id_token_claims,
    sign_access_token,
    sign_token,
)
from mock_idp.users import Person
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.oidc.flow import pkce_challenge

__all__ = ["TokenEndpoint"]


class TokenEndpoint(ProviderState):
    """The token endpoint's part of :class:`mock_idp.provider.Provider`."""

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None, token_endpoint: str
    ) -> Client:
        """Client authentication by the client's registered method."""
        client_id, secret, method = client_auth.presented(form, authorization, self.clients)
        client = self.clients.get(client_id or "")
        if client is None or client.auth_method != method:
            raise client_auth.client_error("unknown client or wrong authentication method")
        if method in ("client_secret_basic", "client_secret_post"):
            if not (client.secret and secret and hmac.compare_digest(client.secret, secret)):
                raise client_auth.client_error("wrong client secret")
        elif method == "private_key_jwt":
            client_auth.check_client_assertion(
                client, form.get("client_assertion", ""), token_endpoint, self._assertions
            )
        elif method == "esia_cms":
            client_auth.check_esia_cms_secret(client, form, self.clock.now())
        elif method == "esia_gost":
            code = form.get("code") if form.get("grant_type") == "authorization_code" else None
            esia_v2.check_request(
                client.gost_certificate(),
                form,
                client_id=client.client_id,
                now=self.clock.now(),
                code=code,
            )
        return client

    def exchange_code(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        """``grant_type=authorization_code``."""
        code = form.get("code", "")
        now = self.clock.now()
        with self._lock:
            grant = self._grants.pop(code, None)
            if grant is None:
                if code in self._used_codes:
                    # a code used twice: revoke what the first use gave (RFC 6749 §4.1.2)
                    for token in self._used_codes.pop(code):
                        self._access.pop(token, None)
                        self._refresh.pop(token, None)
                raise EsiaError("unknown or used code", code="esia.invalid_grant")
        if grant.client_id != client.client_id:
            raise EsiaError("the code was issued to another client", code="esia.invalid_grant")
        if grant.redirect_uri != form.get("redirect_uri"):
            raise EsiaError("redirect_uri differs", code="esia.invalid_grant")
        if now > grant.expires_at:
            raise EsiaError("the code expired", code="esia.code_expired")
        _check_pkce(grant.code_challenge, form.get("code_verifier"))
        response = self._issue(client, grant, now, form)
        issued = [response["access_token"], response.get("refresh_token")]
        with self._lock:
            self._used_codes[code] = [token for token in issued if token]
        return response

    def refresh(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        """``grant_type=refresh_token``; the refresh token is rotated."""
        with self._lock:
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
        if grant is None or grant.client_id != client.client_id:
            raise EsiaError("unknown refresh token", code="esia.invalid_grant")
        return self._issue(client, grant, self.clock.now(), form)

    def _issue(
        self, client: Client, grant: Grant, now: datetime, form: Mapping[str, str]
    ) -> dict[str, Any]:
        person = self.people.get(grant.oid)
        if person is None:
            raise EsiaError("the person is gone", code="esia.invalid_grant")
        key = self._signing_key(client)
        claims = access_token_claims(
            person.oid,
            grant.scopes,
            issuer=self.issuer,
            client_id=client.client_id,
            now=now,
            lifetime=ACCESS_TOKEN_LIFETIME,
            sid=grant.sid,
        )
        access = AccessToken(
            sign_access_token(claims, key, kid=client.token_kid),
            client.client_id,
            person.oid,
            grant.scopes,
            now + ACCESS_TOKEN_LIFETIME,
        )
        refresh = secrets.token_urlsafe(32) if grant.offline else None
        faults = self.take_faults()
        with self._lock:
            self._access[access.token] = access
            if refresh is not None:
                self._refresh[refresh] = grant
            if TokenFault.USERINFO_SUB_MISMATCH in faults:
                self._mismatched_userinfo.add(access.token)
        response = {
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        }
        if refresh is not None:
            response["refresh_token"] = refresh
        if "openid" in grant.scopes:  # as ESIA: no openid, no ID token
            response["id_token"] = self._id_token(client, grant, person, access, now, faults)
        response["scope"] = " ".join(grant.scopes)
        if client.auth_method == "esia_gost":  # ESIA v3/te echoes the request's own state
            response["state"] = form.get("state", "")
        return response

    def signing_key(self, client: Client) -> SigningKey | GostSigningKey:
        """The active key of the client's algorithm: it signs all of its tokens."""
        return self._signing_key(client)

    def _signing_key(self, client: Client) -> SigningKey | GostSigningKey:
        """The active key of the client's algorithm: it signs both of its tokens."""
        alg = client.id_token_alg
        return self.keys.active_gost() if alg == gost.GOST_JWT_ALG else self.keys.active(alg)

    def _id_token(
        self,
        client: Client,
        grant: Grant,
        person: Person,
        access: AccessToken,
        now: datetime,
        faults: set[TokenFault],
    ) -> str:
        claims = id_token_claims(
            person,
            issuer=self.issuer,
            client_id=client.client_id,
            nonce=grant.nonce,
            access_token=access.token,
            now=now,
            lifetime=ID_TOKEN_LIFETIME,
            second_factor=grant.second_factor,
            alg=client.id_token_alg,
            sid=grant.sid,
            auth_time=grant.auth_time,
            acr=grant.acr,
        )
        token = sign_token(claims, self._signing_key(client), faults, kid=client.token_kid)
        if not faults:
            self.issued_id_tokens.add(token, client.client_id, person.oid, grant.sid)
        return token

    def take_faults(self) -> set[TokenFault]:
        """The faults queued for this response (empty when none are)."""
        with self._lock:
            return self.faults.pop(0) if self.faults else set()


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    """PKCE at the token endpoint, as ESIA checks it (``ESIA-007039``, ``ESIA-007040``)."""
    if challenge is None:
        if verifier:
            raise EsiaError(
                "code_verifier was sent, but the authorization request had no code_challenge",
                code="esia.pkce_verifier_unexpected",
            )
        return
    if not verifier or not _pkce_matches(verifier, challenge):
        raise EsiaError(
            "code_verifier does not match the code_challenge", code="esia.pkce_mismatch"
        )


def _pkce_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier`` is the S256 PKCE verifier of ``challenge``."""
    try:
        expected = pkce_challenge(verifier)
    except BridgeError:  # a verifier is ASCII (RFC 7636 §4.1)
        return False
    return hmac.compare_digest(expected, challenge)
