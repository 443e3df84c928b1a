"""The relying party for ESIA: OpenID Connect's, with ESIA's keys, token answer and APIs.

:class:`EsiaRelyingParty` is what ``RelyingParty(config, http)`` builds for an
:class:`~sso_bridge.esia.config.EsiaConfig`. Over the generic relying party it

* checks tokens with ESIA's certificates (:class:`~sso_bridge.esia.keys.GostKeyring`) when
  ``config.esia_keys_from_certificates``, else with the JWKS, trying each key on a token
  without ``kid`` (ESIA names none);
* requires the v3/te answer to echo the token request's own ``state``
  (``esia.state_mismatch``);
* takes the subject from the access token when the answer has no ID token
  (:mod:`sso_bridge.esia.access_token`), and otherwise refuses an access token about
  another person than the ID token (``esia.subject_mismatch``);
* reads the person from ESIA's person API when ``config.esia_person_api`` is set
  (:mod:`sso_bridge.esia.person_api`), and the organisations they work for.

:class:`EsiaProvider` serves it to the broker (``OidcProvider(name, relying_party)``
builds one for an ESIA relying party): the login of the generic OpenID Connect provider,
and, when the staff-role policy asks (:data:`~sso_bridge.esia.roles.ORGANISATIONS`), the
organisations ESIA lists the person as working for.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from sso_bridge.esia import person_api
from sso_bridge.esia.access_token import access_token_subject, validate_esia_access_token
from sso_bridge.esia.config import EsiaConfig
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.logout import esia_logout_url
from sso_bridge.esia.roles import ORGANISATIONS, Employer, EsiaOrganisation
from sso_bridge.idp import Asks, Extra, RedirectTo
from sso_bridge.logout import LogoutStarted
from sso_bridge.model import FederatedIdentity, IdpSession
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.extension import KeySource
from sso_bridge.oidc.http import HttpClient
from sso_bridge.oidc.identity import identity_from_claims
from sso_bridge.oidc.idtoken import IdToken
from sso_bridge.oidc.keys import JwksCache
from sso_bridge.oidc.provider import OidcProvider
from sso_bridge.oidc.rp import LoginResult, RelyingParty, TokenSet
from sso_bridge.token_errors import OidcLogoutError

__all__ = ["EsiaProvider", "EsiaRelyingParty"]


class EsiaRelyingParty(RelyingParty):
    """One ESIA system's login (see the module). ``gost_keys`` replaces the keyring built
    from the config's certificates and ``certificates_uri``; other options are those of
    :class:`~sso_bridge.oidc.rp.RelyingParty`."""

    config: EsiaConfig

    def __init__(
        self,
        config: EsiaConfig,
        http: HttpClient,
        *,
        gost_keys: GostKeyring | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(config, EsiaConfig):
            raise OidcError("an ESIA relying party needs an EsiaConfig", code="oidc.config_invalid")
        if config.esia_keys_from_certificates:
            options.pop("jwks", None)
            if gost_keys is not None:
                options["keys"] = gost_keys
        super().__init__(config, http, **options)

    def provider_type(self) -> type[EsiaProvider]:
        return EsiaProvider

    def default_keys(self) -> KeySource:
        config = self.config
        if config.esia_keys_from_certificates:
            return GostKeyring(
                (*config.gost_certificates, *config.rsa_certificates),
                certificates_uri=config.certificates_uri,
                http=self._http,
                clock=self._clock,
                min_refetch_interval=self._refetch_interval,
            )
        return JwksCache(
            self._http,
            config.jwks_uri,
            config.algorithms,
            clock=self._clock,
            min_refetch_interval=self._refetch_interval,
            try_each_without_kid=True,
        )

    def check_token_answer(self, body: Mapping[str, Any], sent: Mapping[str, str]) -> None:
        """ESIA's v3/te answer repeats the token request's own ``state``; it must be that one."""
        if not self.config.esia_v2:
            return
        got = body.get("state")
        if not isinstance(got, str) or not hmac.compare_digest(
            got.encode("utf-8", "surrogatepass"), sent["state"].encode("utf-8")
        ):
            raise EsiaError(
                "the token answer's state is not the one the token request sent",
                code="esia.state_mismatch",
            )

    def token_subject(self, id_token: IdToken | None, access_token: str) -> str:
        """The access token's ``urn:esia:sbj_id`` when there is no ID token (the access
        token is then validated in full); else the ID token's ``sub``, which the access
        token, when it is a JWT naming a subject, must name too."""
        if id_token is None:
            checked = validate_esia_access_token(
                access_token, self.config, self._key_for, now=self._clock.now()
            )
            return checked.subject
        named = access_token_subject(access_token)
        if named is not None and named != id_token.subject:
            raise EsiaError(
                f"the access token is about {named}, the ID token about {id_token.subject[:40]!r}",
                code="esia.subject_mismatch",
            )
        return id_token.subject

    def identity(self, tokens: TokenSet) -> FederatedIdentity:
        """The person: from ESIA's person API when configured, else userinfo (if any)
        merged over the ID token's claims (``urn:esia:sbj:is_tru`` says ``verified``)."""
        if self.config.esia_person_api is not None:
            person = self.esia_person(tokens)
            return person_api.identity_from_esia_person(self.config.issuer, tokens.subject, person)
        if tokens.id_token is None:
            raise OidcError(
                "without an ID token the identity comes from ESIA's person API, which is "
                "not configured",
                code="oidc.config_invalid",
            )
        info = self.userinfo(tokens) if self.config.userinfo_endpoint else None
        return identity_from_claims(
            self.config.issuer,
            tokens.id_token.claims,
            info,
            trusted=person_api.esia_claims_trusted,
        )

    # -- ESIA's REST API for the person who logged in ------------------------------------

    def _base(self) -> str:
        base = self.config.esia_person_api
        if base is None:
            raise OidcError("no ESIA person API is configured", code="oidc.config_invalid")
        return base.rstrip("/")

    def _fetch(self, tokens: TokenSet) -> person_api.Fetch:
        return lambda url, what: self.fetch_json(url, tokens, what)

    def esia_person(self, tokens: TokenSet) -> dict[str, Any]:
        """ESIA's person document for the token's subject, contacts and documents embedded."""
        return person_api.read_person(self._fetch(tokens), self._base(), tokens.subject)

    def esia_roles(
        self, tokens: TokenSet, *, employers: Iterable[Employer] | None = None
    ) -> tuple[EsiaOrganisation, ...]:
        """The organisations ESIA lists the token's person as working for; with
        ``employers``, completed as :func:`~sso_bridge.esia.person_api.read_roles` says."""
        return person_api.read_roles(
            self._fetch(tokens), self._base(), tokens.subject, employers=employers
        )

    def esia_organisation(self, tokens: TokenSet, org_oid: str | int) -> EsiaOrganisation:
        """ESIA's organisation ``org_oid`` (``GET {esia_person_api}/rs/orgs/{oid}``): its
        name, OGRN, INN and KPP. ``esia.organisation_invalid`` for an odd answer."""
        return person_api.read_organisation(self._fetch(tokens), self._base(), org_oid)


@attrs.frozen
class EsiaProvider(OidcProvider):
    """ESIA as a provider of the broker: ``EsiaProvider(name, relying_party)`` with an
    :class:`EsiaRelyingParty` (what ``OidcProvider(name, relying_party)`` builds for one).

    Over the generic OpenID Connect provider it answers the staff-role policy's question
    (:data:`~sso_bridge.esia.roles.ORGANISATIONS`): the organisations ESIA lists the person
    as working for, read from the person API (left unanswered when none is configured).
    """

    def __attrs_post_init__(self) -> None:
        self.esia  # noqa: B018 - refuses any other relying party now

    @property
    def esia(self) -> EsiaRelyingParty:
        """The relying party, an ESIA one."""
        relying_party = self.relying_party
        if not isinstance(relying_party, EsiaRelyingParty):
            raise OidcError(
                "an ESIA provider needs an ESIA relying party", code="oidc.config_invalid"
            )
        return relying_party

    def start_logout(self, idp: IdpSession, *, now: datetime) -> LogoutStarted:
        """ESIA's own logout (``client_id`` and ``redirect_url``; no ``state`` comes back)."""
        if not self.post_logout_redirect_uri:
            raise OidcLogoutError(
                f"provider {self.name!r} has no post_logout_redirect_uri",
                code="oidc.no_end_session",
            )
        url = esia_logout_url(self.relying_party.config, self.post_logout_redirect_uri)
        return LogoutStarted(RedirectTo(url), None)

    def extras(self, result: LoginResult, asks: Asks) -> Mapping[Extra[Any, Any], object]:
        esia = self.esia
        if ORGANISATIONS not in asks or esia.config.esia_person_api is None:
            return {}
        employers = asks.question(ORGANISATIONS)
        return {ORGANISATIONS: esia.esia_roles(result.tokens, employers=employers)}
