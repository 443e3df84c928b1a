"""The relying party: the core of this package plus an :class:`HttpClient` and a clock."""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import attrs

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.errors_table import esia_refusal
from sso_bridge.esia.gost import GOST_JWT_ALG
from sso_bridge.esia.roles import EsiaOrganisation, organisations_from_roles
from sso_bridge.model import FederatedIdentity
from sso_bridge.oidc.client_auth import token_request
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import OidcError, TokenError
from sso_bridge.oidc.flow import (
    DEFAULT_LOGIN_LIFETIME,
    AuthorizationRequest,
    InMemoryStateStore,
    PendingLogin,
    StateStore,
    authorization_request,
    check_callback,
)
from sso_bridge.oidc.http import HttpClient, HttpResponse
from sso_bridge.oidc.identity import identity_from_claims, identity_from_esia_person
from sso_bridge.oidc.idtoken import IdToken, KeyLookup, validate_id_token
from sso_bridge.oidc.keys import GostKeyring, JwksCache

ESIA_PERSON_EMBED = "(contacts.elements,documents.elements)"

_TOKEN_ERRORS = {"invalid_grant": "oidc.invalid_grant", "invalid_client": "oidc.client_auth_failed"}


@attrs.frozen
class TokenSet:
    """The token endpoint's answer, with the ID token validated."""

    access_token: str = attrs.field(repr=False)
    id_token: IdToken
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_in: int | None = None
    scope: str | None = None


@attrs.frozen
class LoginResult:
    """A finished login: who the person is, and the tokens that said so."""

    identity: FederatedIdentity
    tokens: TokenSet


class RelyingParty:
    """One provider's OIDC login: authorization request, callback, tokens, identity.

    ``state_store`` remembers used ``state`` values (in memory by default: share one across
    processes behind a load balancer). ``other_issuers`` are the other providers the
    broker is configured for, named in mix-up refusals. A provider pinned to
    ``GOST3410_2012_256`` checks tokens with ``gost_keys`` (by default a
    :class:`GostKeyring` of the config's certificates and ``certificates_uri``).
    """

    def __init__(
        self,
        config: ProviderConfig,
        http: HttpClient,
        *,
        clock: Clock | None = None,
        state_store: StateStore | None = None,
        jwks: JwksCache | None = None,
        jwks_refetch_interval: timedelta = timedelta(seconds=30),
        login_lifetime: timedelta = DEFAULT_LOGIN_LIFETIME,
        other_issuers: Collection[str] = (),
        gost_keys: GostKeyring | None = None,
    ) -> None:
        self.config = config
        self._http = http
        self._clock = clock or SystemClock()
        self._state_store = state_store or InMemoryStateStore()
        self._key_for: KeyLookup
        if GOST_JWT_ALG in config.algorithms:
            self._key_for = (
                gost_keys
                or GostKeyring(
                    config.gost_certificates,
                    certificates_uri=config.certificates_uri,
                    http=http,
                    clock=self._clock,
                    min_refetch_interval=jwks_refetch_interval,
                )
            ).key
        else:
            self._key_for = (
                jwks
                or JwksCache(
                    http,
                    config.jwks_uri,
                    config.algorithms,
                    clock=self._clock,
                    min_refetch_interval=jwks_refetch_interval,
                )
            ).key
        self._lifetime = login_lifetime
        self._other_issuers = tuple(other_issuers)

    def start(self) -> AuthorizationRequest:
        """A new authorization request; keep ``.pending`` in the browser session."""
        return authorization_request(self.config, self._clock.now())

    def callback_code(self, params: Mapping[str, str], pending: PendingLogin | None) -> str:
        """Check the callback's query parameters; return the authorization code."""
        return check_callback(
            self.config,
            pending,
            params,
            now=self._clock.now(),
            state_store=self._state_store,
            lifetime=self._lifetime,
            other_issuers=self._other_issuers,
        )

    def exchange_code(self, code: str, pending: PendingLogin) -> TokenSet:
        """Redeem ``code`` at the token endpoint and validate the ID token."""
        if pending.issuer != self.config.issuer:
            raise OidcError("the pending login is for another provider", code="oidc.wrong_provider")
        now = self._clock.now()
        data, headers = token_request(self.config, code, pending.code_verifier, now)
        response = self._http.post(self.config.token_endpoint, data=data, headers=headers)
        body = _token_body(response, esia=self.config.auth_method.startswith("esia"))
        if self.config.esia_v2:
            _check_echoed_state(body, data["state"])
        access_token = body.get("access_token")
        id_token = body.get("id_token")
        token_type = body.get("token_type")
        if not isinstance(access_token, str) or not access_token:
            raise TokenError("the token response has no access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(f"token_type {token_type!r} is not Bearer")
        if not isinstance(id_token, str):
            raise TokenError("the token response has no id_token")
        validated = validate_id_token(
            id_token,
            self.config,
            self._key_for,
            nonce=None if self.config.esia_v2 else pending.nonce,
            now=self._clock.now(),
            access_token=access_token,
        )
        refresh = body.get("refresh_token")
        expires_in = body.get("expires_in")
        scope = body.get("scope")
        return TokenSet(
            access_token=access_token,
            id_token=validated,
            refresh_token=refresh if isinstance(refresh, str) else None,
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=scope if isinstance(scope, str) else None,
        )

    def userinfo(self, tokens: TokenSet) -> dict[str, Any]:
        """The userinfo answer; its ``sub`` must be the ID token's."""
        if self.config.userinfo_endpoint is None:
            raise OidcError("the provider has no userinfo endpoint", code="oidc.config_invalid")
        info = self._get_json(self.config.userinfo_endpoint, tokens, "userinfo")
        if info.get("sub") != tokens.id_token.subject:
            raise OidcError("userinfo describes another subject", code="oidc.userinfo_sub_mismatch")
        return info

    def esia_person(self, tokens: TokenSet) -> dict[str, Any]:
        """ESIA's person document for the token's subject, contacts and documents embedded."""
        base = self.config.esia_person_api
        if base is None:
            raise OidcError("no ESIA person API is configured", code="oidc.config_invalid")
        oid = quote(tokens.id_token.subject, safe="")
        url = f"{base.rstrip('/')}/rs/prns/{oid}?embed={ESIA_PERSON_EMBED}"
        return self._get_json(url, tokens, "the ESIA person API")

    def esia_roles(self, tokens: TokenSet) -> tuple[EsiaOrganisation, ...]:
        """The organisations ESIA lists the token's person as working for
        (``/rs/prns/{oid}/roles``; the ``usr_org`` scope grants it)."""
        base = self.config.esia_person_api
        if base is None:
            raise OidcError("no ESIA person API is configured", code="oidc.config_invalid")
        oid = quote(tokens.id_token.subject, safe="")
        url = f"{base.rstrip('/')}/rs/prns/{oid}/roles"
        return organisations_from_roles(self._get_json(url, tokens, "the ESIA roles list"))

    def identity(self, tokens: TokenSet) -> FederatedIdentity:
        """The person: from ESIA's person API when configured, else userinfo (if any)
        merged over the ID token's claims."""
        if self.config.esia_person_api is not None:
            person = self.esia_person(tokens)
            return identity_from_esia_person(self.config.issuer, tokens.id_token.subject, person)
        info = self.userinfo(tokens) if self.config.userinfo_endpoint else None
        return identity_from_claims(self.config.issuer, tokens.id_token.claims, info)

    def complete(self, params: Mapping[str, str], pending: PendingLogin | None) -> LoginResult:
        """The whole callback: check it, redeem the code, validate, fetch the identity."""
        code = self.callback_code(params, pending)
        if pending is None:  # pragma: no cover - callback_code refused it already
            raise OidcError("no login is pending", code="oidc.no_pending_login")
        tokens = self.exchange_code(code, pending)
        result = LoginResult(self.identity(tokens), tokens)
        return result

    def _get_json(self, url: str, tokens: TokenSet, what: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
        response = self._http.get(url, headers=headers)
        if response.status != 200:
            raise OidcError(f"{what} answered HTTP {response.status}", code="oidc.bad_response")
        return response.json_object(what)


def _check_echoed_state(body: Mapping[str, Any], sent: str) -> None:
    """ESIA's v3/te answer repeats the token request's own ``state``; it must be that one."""
    got = body.get("state")
    if not isinstance(got, str) or not hmac.compare_digest(
        got.encode("utf-8", "surrogatepass"), sent.encode("utf-8")
    ):
        raise EsiaError(
            "the token answer's state is not the one the token request sent",
            code="esia.state_mismatch",
        )


def _token_body(response: HttpResponse, *, esia: bool = False) -> dict[str, Any]:
    if response.status == 200:
        return response.json_object("the token response")
    try:
        body = response.json_object("the token error")
    except OidcError:
        body = {}
    error = body.get("error")
    description = body.get("error_description")
    error = error if isinstance(error, str) else None
    description = description if isinstance(description, str) else None
    refusal = esia_refusal(description) if esia else None
    if refusal is not None:
        raise TokenError(
            f"ESIA refused the token request (HTTP {response.status}) with {refusal.number}: "
            f"{refusal.advice}",
            error=error,
            description=description,
            code=refusal.code,
        )
    raise TokenError(
        f"the token endpoint refused (HTTP {response.status}): {error} ({description or '-'})",
        error=error,
        description=description,
        code=_TOKEN_ERRORS.get(error or ""),
    )
