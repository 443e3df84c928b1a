"""The login entry points: the IdP's answer, the chooser, the local login and the
second factor. Each reads the clock once, takes the step id the previous answer gave (in
the browser that started the login) and hands the input to the machine
(:mod:`sso_bridge.broker.machine`) through the shell."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sso_bridge.broker.config import Client, OidcProvider, Provider, SamlProvider
from sso_bridge.broker.core import At
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.machine import Event, accepts
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import (
    AwaitingIdp,
    AwaitingIdpToLink,
    OidcRequest,
    Person,
    SamlRequest,
    Start,
    StepIdentity,
    StoredState,
)
from sso_bridge.broker.results import (
    LinkedFromSettings,
    LocalLoginForm,
    LoggedIn,
    Redirect,
    SecondFactorForm,
    StepResult,
)
from sso_bridge.broker.shell import Call, MachineShell, Reply
from sso_bridge.broker.steps import browser_hash, new_step_id
from sso_bridge.esia.roles import EsiaOrganisation
from sso_bridge.matching import identity_keys
from sso_bridge.model import AuditAction, FederatedIdentity
from sso_bridge.oidc.flow import PendingLogin
from sso_bridge.saml.requests import build_authn_request
from sso_bridge.saml.response import process_response

__all__ = ["LoginFlow"]


def _wrong_provider() -> BrokerError:
    return BrokerError("the answer came from another provider", code="broker.wrong_provider")


class LoginFlow(MachineShell):
    """The login entry points: IdP, chooser, local login, second factor."""

    # -- starting --------------------------------------------------------------------------

    def begin_federated(
        self, provider: str, client: Client, *, kept: str | None = None
    ) -> Redirect:
        """Send the browser to the IdP to log in."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            chosen = self._provider(provider)
            request, url = self._idp_request(chosen, now)
            event = ev.FederatedBegun(
                browser_hash(client.browser_id), chosen.name, request, url, kept
            )
            return self._redirect(self._run(Start(), event, Call(client, now)))

    def begin_local(self, client: Client, *, kept: str | None = None) -> LocalLoginForm:
        """The local login form (organisation + login + password)."""
        now = self._clock.now()
        event = ev.LocalBegun(browser_hash(client.browser_id), kept)
        reply = self._run(Start(), event, Call(client, now))
        assert isinstance(reply, LocalLoginForm)  # noqa: S101 - the rule of begin_local
        return reply

    def _idp_request(
        self, provider: Provider, now: datetime
    ) -> tuple[OidcRequest | SamlRequest, str]:
        if isinstance(provider, OidcProvider):
            request = provider.relying_party.start()
            return OidcRequest(request.pending.to_dict()), request.url
        relay = new_step_id()
        redirect = build_authn_request(
            provider.config,
            request_store=provider.request_store,
            clock=At(now),
            relay_state=relay,
        )
        return SamlRequest(redirect.request_id, relay), redirect.url

    @staticmethod
    def _redirect(reply: Reply) -> Redirect:
        assert isinstance(reply, Redirect)  # noqa: S101 - the rule of a begin
        return reply

    # -- the IdP's answer ----------------------------------------------------------------

    def _take_answered(self, step_id: str, client: Client, now: datetime) -> StoredState:
        state = self._steps.take(step_id, browser_hash(client.browser_id), now)
        accepts(state, Event.IDP_ANSWERED)
        return state

    def finish_oidc(
        self, provider: str, params: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings:
        """The OIDC callback (its query parameters)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._take_answered(params.get("state", ""), client, now)
            chosen = self._provider(provider)
            if not isinstance(chosen, OidcProvider) or not isinstance(
                state, AwaitingIdp | AwaitingIdpToLink
            ):
                raise _wrong_provider()
            if state.provider != chosen.name or not isinstance(state.request, OidcRequest):
                raise _wrong_provider()
            pending = PendingLogin.from_dict(state.request.pending)
            result = chosen.relying_party.complete(params, pending)
            id_token = result.tokens.id_token
            claims = id_token.claims if id_token is not None else {}
            amr, acr = claims.get("amr"), claims.get("acr")
            mfa = self.policy.second_factor.idp_reported_mfa(
                amr=[a for a in amr if isinstance(a, str)] if isinstance(amr, list) else None,
                acr=acr if isinstance(acr, str) else None,
            )
            organisations: tuple[EsiaOrganisation, ...] | None = None
            if self.policy.staff is not None and chosen.relying_party.config.esia_person_api:
                organisations = chosen.relying_party.esia_roles(
                    result.tokens, employers=self.policy.staff.employers.values()
                )
            person = self._person(result.identity, mfa, None, organisations)
            return self._run(state, ev.IdpAnswered(person), Call(client, now))

    def finish_saml(
        self, provider: str, form: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings:
        """The SAML assertion consumer service (the POSTed form)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            chosen = self._provider(provider)
            if not isinstance(chosen, SamlProvider):
                raise _wrong_provider()
            relay = form.get("RelayState")
            state: StoredState | None = None
            if relay:
                state = self._take_answered(relay, client, now)
                if not isinstance(state, AwaitingIdp | AwaitingIdpToLink):  # pragma: no cover
                    raise _wrong_provider()
                if state.provider != chosen.name:
                    raise _wrong_provider()
            result = process_response(
                form.get("SAMLResponse", ""),
                chosen.config,
                request_store=chosen.request_store,
                replay_cache=chosen.replay_cache,
                clock=At(now),
            )
            mfa = self.policy.second_factor.idp_reported_mfa(authn_context=result.authn_context)
            person = self._person(result.identity, mfa, result.session_not_on_or_after, None)
            call = Call(client, now)
            if state is None:
                if not result.idp_initiated:
                    raise BrokerError(
                        "the SAML answer came without its login step", code="broker.step_unknown"
                    )
                event = ev.UnsolicitedAnswer(browser_hash(client.browser_id), person)
                return self._run(Start(), event, call)
            request = state.request  # type: ignore[union-attr]
            if not isinstance(request, SamlRequest) or result.in_response_to != request.request_id:
                raise BrokerError(
                    "the SAML answer is for a login started elsewhere",
                    code="broker.saml_request_mismatch",
                )
            return self._run(state, ev.IdpAnswered(person), call)

    def _person(
        self,
        identity: FederatedIdentity,
        idp_mfa: bool,
        not_on_or_after: datetime | None,
        organisations: tuple[EsiaOrganisation, ...] | None,
    ) -> Person:
        keys, _ = identity_keys(identity, self.directory.blind_index)
        return Person(StepIdentity.of(identity, keys), idp_mfa, not_on_or_after, organisations)

    # -- the person's answers --------------------------------------------------------------

    def choose(
        self, step_id: str, account_id: str, client: Client
    ) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        """The chooser's answer: one of the offered accounts, and nothing else."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._steps.take(step_id, browser_hash(client.browser_id), now)
            accepts(state, Event.ACCOUNT_CHOSEN)
            event = ev.AccountChosen(account_id, self.directory.get_account(account_id))
            return self._login_reply(self._run(state, event, Call(client, now)))

    def local_login(
        self, step_id: str, org_id: str, login: str, password: str, client: Client
    ) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        """Organisation + login + password. A wrong password or a locked account gives the
        form again with the error; five wrong passwords lock the account."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._steps.take(step_id, browser_hash(client.browser_id), now)
            event = ev.PasswordGiven(org_id, login, password)
            return self._login_reply(self._run(state, event, Call(client, now)))

    def second_factor(
        self, step_id: str, code: str, client: Client, *, session_token: str | None = None
    ) -> LoggedIn | SecondFactorForm:
        """The one-time or TOTP code. A wrong code with attempts left gives the form again;
        the fifth wrong code ends the challenge and the login."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._steps.take(step_id, browser_hash(client.browser_id), now)
            call = Call(client, now, session_token)
            return self._code_reply(self._run(state, ev.CodeGiven(code), call))

    def resend_code(self, step_id: str, client: Client) -> SecondFactorForm:
        """Send a new one-time code (after a cooldown, a few times at most)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._steps.take(step_id, browser_hash(client.browser_id), now)
            reply = self._run(state, ev.ResendAsked(), Call(client, now))
            assert isinstance(reply, SecondFactorForm)  # noqa: S101 - the rule of a resend
            return reply

    @staticmethod
    def _login_reply(reply: Reply) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        assert isinstance(reply, LoggedIn | SecondFactorForm | LocalLoginForm)  # noqa: S101
        return reply

    @staticmethod
    def _code_reply(reply: Reply) -> LoggedIn | SecondFactorForm:
        assert isinstance(reply, LoggedIn | SecondFactorForm)  # noqa: S101
        return reply
