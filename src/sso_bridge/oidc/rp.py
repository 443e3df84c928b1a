"""The relying party: the core of this package plus an :class:`HttpClient` and a clock."""

from __future__ import annotations

import hmac
from collections.abc import Collection, Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import attrs

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.errors_table import esia_refusal
from sso_bridge.esia.roles import (
    Employer,
    EsiaOrganisation,
    needs_numbers,
    organisation_from_document,
    organisations_from_roles,
)
from sso_bridge.model import FederatedIdentity
from sso_bridge.oidc.client_auth import token_request
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import OidcError, TokenError
from sso_bridge.oidc.esia_access import access_token_subject, validate_esia_access_token
from sso_bridge.oidc.esia_keys import GostKeyring
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
from sso_bridge.oidc.keys import JwksCache

ESIA_PERSON_EMBED = "(contacts.elements,documents.elements)"
MAX_COMPLETED_ORGANISATIONS = 50
"""The most organisations of one roles list completed from ``/rs/orgs/{oid}``."""

_TOKEN_ERRORS = {"invalid_grant": "oidc.invalid_grant", "invalid_client": "oidc.client_auth_failed"}


def _subject_of(tokens: TokenSet) -> str:
    if tokens.id_token is None:
        raise ValueError("a TokenSet without an ID token needs its subject")
    return tokens.id_token.subject


@attrs.frozen
class TokenSet:
    """The token endpoint's answer, validated: the ID token, or for an ESIA login without
    ``openid`` the access token. ``subject`` is who logged in: the ID token's ``sub``, else
    the access token's ``urn:esia:sbj_id``."""

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
    broker is configured for, named in mix-up refusals. A provider whose tokens are checked
    with ESIA's certificates (``config.esia_keys_from_certificates``: every
    ``GOST3410_2012_256`` provider, and ESIA ``RS256`` systems given RSA certificates or a
    ``certificates_uri``) uses ``gost_keys`` (by default a :class:`GostKeyring` of the
    config's certificates and ``certificates_uri``); others use ``jwks`` (by default a
    :class:`JwksCache` of ``jwks_uri``, which for ESIA tries each key on a token without
    ``kid``).
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
        if config.esia_keys_from_certificates:
            self._key_for = (
                gost_keys
                or GostKeyring(
                    (*config.gost_certificates, *config.rsa_certificates),
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
                    try_each_without_kid=config.esia,
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
        """Redeem ``code`` at the token endpoint and validate the ID token (for an ESIA
        configuration without ``openid`` and an answer without one: the access token)."""
        if pending.issuer != self.config.issuer:
            raise OidcError("the pending login is for another provider", code="oidc.wrong_provider")
        now = self._clock.now()
        data, headers = token_request(self.config, code, pending.code_verifier, now)
        response = self._http.post(self.config.token_endpoint, data=data, headers=headers)
        body = _token_body(response, esia=self.config.esia)
        if self.config.esia_v2:
            _check_echoed_state(body, data["state"])
        access_token = body.get("access_token")
        id_token = body.get("id_token")
        token_type = body.get("token_type")
        if not isinstance(access_token, str) or not access_token:
            raise TokenError("the token response has no access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(f"token_type {token_type!r} is not Bearer")
        validated, subject = self._identify(id_token, access_token, pending)
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

    def _identify(
        self, id_token: object, access_token: str, pending: PendingLogin
    ) -> tuple[IdToken | None, str]:
        """The validated ID token (None when none was needed) and the subject."""
        if id_token is None and not self.config.id_token_expected:
            checked = validate_esia_access_token(
                access_token, self.config, self._key_for, now=self._clock.now()
            )
            return None, checked.subject
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
        if self.config.esia:
            named = access_token_subject(access_token)
            if named is not None and named != validated.subject:
                raise EsiaError(
                    f"the access token is about {named}, the ID token about "
                    f"{validated.subject[:40]!r}",
                    code="esia.subject_mismatch",
                )
        return validated, validated.subject

    def userinfo(self, tokens: TokenSet) -> dict[str, Any]:
        """The userinfo answer; its ``sub`` must be the ID token's."""
        if self.config.userinfo_endpoint is None:
            raise OidcError("the provider has no userinfo endpoint", code="oidc.config_invalid")
        info = self._get_json(self.config.userinfo_endpoint, tokens, "userinfo")
        if info.get("sub") != tokens.subject:
            raise OidcError("userinfo describes another subject", code="oidc.userinfo_sub_mismatch")
        return info

    def _esia_base(self) -> str:
        base = self.config.esia_person_api
        if base is None:
            raise OidcError("no ESIA person API is configured", code="oidc.config_invalid")
        return base.rstrip("/")

    def esia_person(self, tokens: TokenSet) -> dict[str, Any]:
        """ESIA's person document for the token's subject, contacts and documents embedded."""
        oid = quote(tokens.subject, safe="")
        url = f"{self._esia_base()}/rs/prns/{oid}?embed={ESIA_PERSON_EMBED}"
        return self._get_json(url, tokens, "the ESIA person API")

    def esia_roles(
        self, tokens: TokenSet, *, employers: Iterable[Employer] | None = None
    ) -> tuple[EsiaOrganisation, ...]:
        """The organisations ESIA lists the token's person as working for
        (``/rs/prns/{oid}/roles``; the ``usr_org`` scope grants it).

        With ``employers`` (the staff-role registry), an active organisation that lacks a
        registration number one of them would be compared on (see
        :func:`~sso_bridge.esia.roles.needs_numbers`) is completed from
        :meth:`esia_organisation`, one request per organisation and at most
        :data:`MAX_COMPLETED_ORGANISATIONS` of them; numbers the roles list has are kept.
        """
        oid = quote(tokens.subject, safe="")
        url = f"{self._esia_base()}/rs/prns/{oid}/roles"
        found = organisations_from_roles(self._get_json(url, tokens, "the ESIA roles list"))
        if employers is None:
            return found
        registry = tuple(employers)
        fetched: dict[str, EsiaOrganisation] = {}

        def complete(organisation: EsiaOrganisation) -> EsiaOrganisation:
            oid = organisation.oid
            if not needs_numbers(organisation, registry) or (
                oid not in fetched and len(fetched) >= MAX_COMPLETED_ORGANISATIONS
            ):
                return organisation
            if oid not in fetched:
                fetched[oid] = self.esia_organisation(tokens, oid)
            full = fetched[oid]
            return attrs.evolve(
                organisation,
                ogrn=organisation.ogrn or full.ogrn,
                inn=organisation.inn or full.inn,
                kpp=organisation.kpp or full.kpp,
            )

        return tuple(complete(organisation) for organisation in found)

    def esia_organisation(self, tokens: TokenSet, org_oid: str | int) -> EsiaOrganisation:
        """ESIA's organisation ``org_oid`` (``GET {esia_person_api}/rs/orgs/{oid}``): its
        name, OGRN, INN and KPP. ``esia.organisation_invalid`` for an odd answer."""
        oid = _organisation_oid(org_oid)
        url = f"{self._esia_base()}/rs/orgs/{oid}"
        return organisation_from_document(
            self._get_json(url, tokens, "the ESIA organisation API"), oid
        )

    def identity(self, tokens: TokenSet) -> FederatedIdentity:
        """The person: from ESIA's person API when configured, else userinfo (if any)
        merged over the ID token's claims."""
        if self.config.esia_person_api is not None:
            person = self.esia_person(tokens)
            return identity_from_esia_person(self.config.issuer, tokens.subject, person)
        if tokens.id_token is None:
            raise OidcError(
                "without an ID token the identity comes from ESIA's person API, which is "
                "not configured",
                code="oidc.config_invalid",
            )
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


def _organisation_oid(value: str | int) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(text, str)
        or not 0 < len(text) <= 19
        or not (text.isascii() and text.isdigit())
        or not 0 < int(text) < 2**63
    ):
        raise EsiaError(
            f"{str(value)[:40]!r} is not an ESIA organisation oid",
            code="esia.organisation_invalid",
        )
    return text


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
