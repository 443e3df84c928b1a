"""The login entry points: the IdP's answer, the chooser, the local login and the
second factor. Each reads the clock once, takes the step id the previous answer gave (in
the browser that started the login) and hands the input to the machine
(:mod:`sso_bridge.broker.machine`) through the shell."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime

from sso_bridge.broker.config import Client, Provider
from sso_bridge.broker.errors import BrokerError, TooManyStarts
from sso_bridge.broker.machine import Event, accepts
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import (
    AwaitingIdp,
    AwaitingIdpToLink,
    AwaitingIdpToStepUp,
    ChoosingAccount,
    IdpRequest,
    Person,
    Start,
    StepIdentity,
    StoredState,
)
from sso_bridge.broker.results import (
    ChooseAccount,
    LinkedFromSettings,
    LinkRequested,
    LocalLoginForm,
    LoggedIn,
    Redirect,
    SecondFactorForm,
    StepResult,
    StepUpDone,
)
from sso_bridge.broker.shell import Call, MachineShell, Reply
from sso_bridge.broker.steps import browser_hash
from sso_bridge.errors import ConfigError
from sso_bridge.esia.roles import ORGANISATIONS
from sso_bridge.idp import (
    FRESH,
    NO_ASKS,
    NO_REQUIREMENTS,
    Answer,
    Asks,
    AuthnRequirements,
    PostTo,
    VerifiedLogin,
    accepts_requirements,
)
from sso_bridge.matching import identity_keys
from sso_bridge.model import AuditAction

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
            self._count_start(client, now)
            # shared-computer mode: the next person at this computer never rides on the
            # previous one's session at the IdP
            fresh = self.policy.shared_computer_applies(chosen.name)
            authn = FRESH if fresh else NO_REQUIREMENTS
            request, url, fields = self._idp_request(chosen, now, authn)
            event = ev.FederatedBegun(
                browser_hash(client.browser_id), chosen.name, request, url, kept, fields, fresh
            )
            return self._redirect(self._run(Start(), event, Call(client, now)))

    def _count_start(self, client: Client, now: datetime) -> None:
        """Count a login started at an IdP from the client's IP; past the limit, refuse."""
        limit = self.policy.limits.idp_starts_per_ip
        wait = self._limiter.hit("ip-idp-starts", str(client.ip), limit, now)
        if wait is not None:
            error = TooManyStarts(wait)
            self._record(
                AuditAction.LIMIT_REACHED, client, now, code=error.code, detail=error.message
            )
            raise error

    def begin_local(self, client: Client, *, kept: str | None = None) -> LocalLoginForm:
        """The local login form (organisation + login + password)."""
        now = self._clock.now()
        event = ev.LocalBegun(browser_hash(client.browser_id), kept)
        reply = self._run(Start(), event, Call(client, now))
        assert isinstance(reply, LocalLoginForm)  # noqa: S101 - the rule of begin_local
        return reply

    @staticmethod
    def _idp_request(
        provider: Provider, now: datetime, authn: AuthnRequirements = NO_REQUIREMENTS
    ) -> tuple[IdpRequest, str, tuple[tuple[str, str], ...]]:
        """The provider's request: the step's part, the URL, the fields to POST there.
        A provider whose ``start`` takes no ``authn`` serves ordinary logins only."""
        if not authn.any:
            started = provider.start(now=now)
        elif accepts_requirements(provider):
            started = provider.start(now=now, authn=authn)
        else:
            raise ConfigError(
                f"the provider {provider.name} cannot ask its IdP for a fresh authentication "
                "(its start() takes no authn), which linking, step-up and shared-computer "
                "mode need",
                code="config.invalid",
            )
        if not 0 < len(started.step_id) <= 128:
            raise BrokerError(
                f"{provider.name} gave a step id of {len(started.step_id)} characters, not 1 to 128"
            )
        go = started.go
        fields = go.fields if isinstance(go, PostTo) else ()
        return IdpRequest(started.step_id, started.remembered), go.url, fields

    @staticmethod
    def _redirect(reply: Reply) -> Redirect:
        assert isinstance(reply, Redirect)  # noqa: S101 - the rule of a begin
        return reply

    # -- the IdP's answer ----------------------------------------------------------------

    def _take_answered(self, step_id: str, client: Client, now: datetime) -> StoredState:
        state = self._steps.take(step_id, browser_hash(client.browser_id), now)
        accepts(state, Event.IDP_ANSWERED)
        return state

    def finish(
        self, provider: str, answer: Answer, client: Client
    ) -> StepResult | LinkedFromSettings | LinkRequested | StepUpDone:
        """The IdP's answer, whatever the protocol: an OIDC callback's query parameters, a
        SAML ACS post's form fields. The provider names the step it answers and checks the
        answer against what the step remembered; an answer that names no step is taken
        only as one the IdP may send unasked (IdP-initiated SAML), and never links."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            chosen = self._provider(provider)
            call = Call(client, now)
            step_id = chosen.step_id(answer)
            if step_id is None:
                login = chosen.finish(answer, None, now=now, asks=self._asks())
                if not login.unsolicited:
                    raise BrokerError(
                        "the answer came without its login step", code="broker.step_unknown"
                    )
                event = ev.UnsolicitedAnswer(browser_hash(client.browser_id), self._person(login))
                return self._run(Start(), event, call)
            state = self._take_answered(step_id, client, now)
            if not isinstance(
                state, AwaitingIdp | AwaitingIdpToLink | AwaitingIdpToStepUp
            ):  # pragma: no cover
                raise _wrong_provider()
            if state.provider != chosen.name:
                raise _wrong_provider()
            remembered = state.request.remembered
            login = chosen.finish(answer, remembered, now=now, asks=self._asks())
            return self._run(state, ev.IdpAnswered(self._person(login)), call)

    def finish_oidc(
        self, provider: str, params: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings | LinkRequested | StepUpDone:
        """Deprecated (one release): :meth:`finish` takes every provider's answer."""
        warnings.warn(
            "Broker.finish_oidc is deprecated: call Broker.finish", DeprecationWarning, stacklevel=2
        )
        return self.finish(provider, params, client)

    def finish_saml(
        self, provider: str, form: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings | LinkRequested | StepUpDone:
        """Deprecated (one release): :meth:`finish` takes every provider's answer."""
        warnings.warn(
            "Broker.finish_saml is deprecated: call Broker.finish", DeprecationWarning, stacklevel=2
        )
        return self.finish(provider, form, client)

    def _asks(self) -> Asks:
        """What the policies ask the provider for beyond the identity."""
        staff = self.policy.staff
        if staff is None:
            return NO_ASKS
        return NO_ASKS.asking(ORGANISATIONS, tuple(staff.employers.values()))

    def _person(self, login: VerifiedLogin) -> Person:
        identity = login.identity
        keys, _ = identity_keys(identity, self.directory.blind_index)
        mfa = self.policy.second_factor.idp_reported_mfa(
            amr=login.amr, acr=login.acr, authn_context=login.authn_context
        )
        return Person(
            StepIdentity.of(identity, keys),
            mfa,
            login.not_on_or_after,
            login.answer(ORGANISATIONS),
            login.idp_session,
            login.auth_time,
            login.acr if login.acr is not None else login.authn_context,
        )

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

    def hide(self, step_id: str, account_id: str, client: Client) -> ChooseAccount:
        """The chooser's "do not offer this account": one of its accounts is hidden from the
        person's logins (stored, audited; offered again from the settings) and the chooser
        comes back without it, under a new step."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            state = self._steps.take(step_id, browser_hash(client.browser_id), now)
            accepts(state, Event.ACCOUNT_HIDDEN)
            offered = state.offered if isinstance(state, ChoosingAccount) else ()
            remaining = tuple(
                account
                for account in (self.directory.get_account(a) for a in offered if a != account_id)
                if account is not None
            )
            reply = self._run(state, ev.AccountHidden(account_id, remaining), Call(client, now))
            assert isinstance(reply, ChooseAccount)  # noqa: S101 - the rule of a hide
            return reply

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
