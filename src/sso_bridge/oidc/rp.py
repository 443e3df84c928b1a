"""The relying party: the core of this package plus an :class:`HttpClient` and a clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any, Self

import attrs

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.model import FederatedIdentity
from sso_bridge.oidc.client_auth import token_request
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import OidcError, TokenError
from sso_bridge.oidc.extension import KeySource
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
from sso_bridge.oidc.identity import identity_from_claims
from sso_bridge.oidc.idtoken import IdToken, KeyLookup, validate_id_token
from sso_bridge.oidc.keys import JwksCache

_TOKEN_ERRORS = {"invalid_grant": "oidc.invalid_grant", "invalid_client": "oidc.client_auth_failed"}


def _subject_of(tokens: TokenSet) -> str:
    if tokens.id_token is None:
        raise ValueError("a TokenSet without an ID token needs its subject")
    return tokens.id_token.subject


@attrs.frozen
class TokenSet:
    """The token endpoint's answer, validated: the ID token (None when the provider's
    profile lets the answer come without one). ``subject`` is who logged in: the ID
    token's ``sub``, else the one the profile read from the access token."""

    access_token: str = attrs.field(repr=False)
    id_token: IdToken | None
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_in: int | None = None
    scope: str | None = None
    subject: str = attrs.field(default=attrs.Factory(_subject_of, takes_self=True))


@attrs.frozen
class LoginResult:
    """A finished login: who the person is, and the tokens that said so."""

    identity: FederatedIdentity
    tokens: TokenSet


class RelyingParty:
    """One provider's OIDC login: authorization request, callback, tokens, identity.

    ``state_store`` remembers used ``state`` values (in memory by default: share one across
    processes behind a load balancer). ``other_issuers`` are the other providers the
    broker is configured for, named in mix-up refusals. The provider's keys come from
    ``keys`` (any :class:`~sso_bridge.oidc.extension.KeySource`), else ``jwks``, else
    :meth:`default_keys` (a :class:`JwksCache` of ``jwks_uri``).

    A config whose profile needs a subclass (``config.relying_party_type()``) gets one:
    ``RelyingParty(config, http)`` builds that subclass. A subclass overrides the hooks
    :meth:`default_keys`, :meth:`check_token_answer`, :meth:`token_subject` and
    :meth:`identity` (see :mod:`sso_bridge.oidc.extension`), and :meth:`provider_type`.
    """

    def __new__(cls, config: ProviderConfig, *args: Any, **kwargs: Any) -> Self:
        wanted = config.relying_party_type() if cls is RelyingParty else None
        if wanted is not None and issubclass(wanted, cls):
            made: Self = super().__new__(wanted)
            return made
        return super().__new__(cls)

    def __init__(
        self,
        config: ProviderConfig,
        http: HttpClient,
        *,
        clock: Clock | None = None,
        state_store: StateStore | None = None,
        jwks: JwksCache | None = None,
        keys: KeySource | None = None,
        jwks_refetch_interval: timedelta = timedelta(seconds=30),
        login_lifetime: timedelta = DEFAULT_LOGIN_LIFETIME,
        other_issuers: Collection[str] = (),
    ) -> None:
        self.config = config
        self._http = http
        self._clock = clock or SystemClock()
        self._state_store = state_store or InMemoryStateStore()
        self._refetch_interval = jwks_refetch_interval
        self._key_for: KeyLookup = (keys or jwks or self.default_keys()).key
        self._lifetime = login_lifetime
        self._other_issuers = tuple(other_issuers)

    def provider_type(self) -> type[Any] | None:
        """The :class:`~sso_bridge.oidc.provider.OidcProvider` subclass that serves this
        relying party to the broker (hook: None, the generic one)."""
        return None

    def signing_key(self, kid: str | None, alg: str) -> Any:
        """The IdP's key for a token it signed (``kid``, ``alg``): the ID token's lookup,
        for the other tokens it signs (back-channel logout tokens)."""
        return self._key_for(kid, alg)

    def default_keys(self) -> KeySource:
        """The provider's keys when none are given: its JWKS, cached (hook)."""
        return JwksCache(
            self._http,
            self.config.jwks_uri,
            self.config.algorithms,
            clock=self._clock,
            min_refetch_interval=self._refetch_interval,
        )

    def start(
        self,
        *,
        prompt: str | None = None,
        max_age: int | None = None,
        acr_values: tuple[str, ...] = (),
    ) -> AuthorizationRequest:
        """A new authorization request; keep ``.pending`` in the browser session.
        ``prompt``, ``max_age`` and ``acr_values`` go into it when given."""
        return authorization_request(
            self.config, self._clock.now(), prompt=prompt, max_age=max_age, acr_values=acr_values
        )

    def callback_code(
        self, params: Mapping[str, str], pending: PendingLogin | None, *, state_taken: bool = False
    ) -> str:
        """Check the callback's query parameters; return the authorization code.

        ``state_taken``: the caller has already taken the ``state`` once (the broker
        consumes the login step kept under it), so the state store is not touched.
        """
        return check_callback(
            self.config,
            pending,
            params,
            now=self._clock.now(),
            state_store=None if state_taken else self._state_store,
            lifetime=self._lifetime,
            other_issuers=self._other_issuers,
        )

    def exchange_code(self, code: str, pending: PendingLogin) -> TokenSet:
        """Redeem ``code`` at the token endpoint and validate the ID token (when the
        profile lets the answer come without one and it does: the subject it names)."""
        if pending.issuer != self.config.issuer:
            raise OidcError("the pending login is for another provider", code="oidc.wrong_provider")
        now = self._clock.now()
        data, headers = token_request(self.config, code, pending.code_verifier, now)
        response = self._http.post(self.config.token_endpoint, data=data, headers=headers)
        body = self._token_body(response)
        self.check_token_answer(body, data)
        access_token = body.get("access_token")
        id_token = body.get("id_token")
        token_type = body.get("token_type")
        if not isinstance(access_token, str) or not access_token:
            raise TokenError("the token response has no access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(f"token_type {token_type!r} is not Bearer")
        validated = self._validate(id_token, access_token, pending)
        subject = self.token_subject(validated, access_token)
        refresh = body.get("refresh_token")
        expires_in = body.get("expires_in")
        scope = body.get("scope")
        return TokenSet(
            access_token=access_token,
            id_token=validated,
            refresh_token=refresh if isinstance(refresh, str) else None,
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=scope if isinstance(scope, str) else None,
            subject=subject,
        )

    def _validate(
        self, id_token: object, access_token: str, pending: PendingLogin
    ) -> IdToken | None:
        """The validated ID token; None when there is none and none was needed."""
        if id_token is None and not self.config.id_token_expected:
            return None
        if not isinstance(id_token, str):
            raise TokenError("the token response has no id_token")
        return validate_id_token(
            id_token,
            self.config,
            self._key_for,
            nonce=pending.nonce if self.config.sends_nonce else None,
            now=self._clock.now(),
            access_token=access_token,
        )

    def check_token_answer(self, body: Mapping[str, Any], sent: Mapping[str, str]) -> None:
        """Checks of the token answer ``body`` beyond OAuth's own, given the form ``sent``
        (hook; nothing here)."""

    def token_subject(self, id_token: IdToken | None, access_token: str) -> str:
        """Who logged in: the validated ID token's ``sub`` (hook: a profile whose answer
        may lack an ID token names the subject from the access token)."""
        if id_token is None:
            raise TokenError("the token response has no id_token")
        return id_token.subject

    def userinfo(self, tokens: TokenSet) -> dict[str, Any]:
        """The userinfo answer; its ``sub`` must be the ID token's."""
        if self.config.userinfo_endpoint is None:
            raise OidcError("the provider has no userinfo endpoint", code="oidc.config_invalid")
        info = self.fetch_json(self.config.userinfo_endpoint, tokens, "userinfo")
        if info.get("sub") != tokens.subject:
            raise OidcError("userinfo describes another subject", code="oidc.userinfo_sub_mismatch")
        return info

    def identity(self, tokens: TokenSet) -> FederatedIdentity:
        """The person: userinfo (if any) merged over the ID token's claims (hook)."""
        if tokens.id_token is None:
            raise OidcError(
                "without an ID token the identity must come from the provider's own API, "
                "which is not configured",
                code="oidc.config_invalid",
            )
        info = self.userinfo(tokens) if self.config.userinfo_endpoint else None
        return identity_from_claims(self.config.issuer, tokens.id_token.claims, info)

    def complete(
        self, params: Mapping[str, str], pending: PendingLogin | None, *, state_taken: bool = False
    ) -> LoginResult:
        """The whole callback: check it, redeem the code, validate, fetch the identity
        (``state_taken`` as for :meth:`callback_code`)."""
        code = self.callback_code(params, pending, state_taken=state_taken)
        if pending is None:  # pragma: no cover - callback_code refused it already
            raise OidcError("no login is pending", code="oidc.no_pending_login")
        tokens = self.exchange_code(code, pending)
        result = LoginResult(self.identity(tokens), tokens)
        return result

    def fetch_json(self, url: str, tokens: TokenSet, what: str) -> dict[str, Any]:
        """GET ``url`` with the access token (a resource of the provider's): its JSON
        object; ``oidc.bad_response`` unless HTTP 200."""
        headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
        response = self._http.get(url, headers=headers)
        if response.status != 200:
            raise OidcError(f"{what} answered HTTP {response.status}", code="oidc.bad_response")
        return response.json_object(what)

    def _token_body(self, response: HttpResponse) -> dict[str, Any]:
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
        refusal = self.config.refusal(error, description, status=response.status)
        if refusal is not None:
            raise refusal.token(
                refusal.message, error=error, description=description, code=refusal.code
            )
        raise TokenError(
            f"the token endpoint refused (HTTP {response.status}): {error} ({description or '-'})",
            error=error,
            description=description,
            code=_TOKEN_ERRORS.get(error or ""),
        )
