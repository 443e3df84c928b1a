"""The login entry points: the IdP's answer, the chooser, the local login and the
second factor. Each takes the step id the previous answer gave, in the browser that
started the login, and moves the step along the table of :mod:`sso_bridge.broker.states`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from sso_bridge.broker.config import Client, OidcProvider, Provider, SamlProvider
from sso_bridge.broker.core import ACTOR, BrokerCore
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.results import (
    AccountOption,
    ChooseAccount,
    LinkedFromSettings,
    LocalLoginForm,
    LoggedIn,
    Redirect,
    SecondFactorForm,
    StepResult,
)
from sso_bridge.broker.states import Event, State, advance
from sso_bridge.broker.steps import Purpose, Step, StepIdentity, browser_hash, check_linked
from sso_bridge.errors import AccountNotFound, BridgeError
from sso_bridge.linking import RequestContext
from sso_bridge.matching import MatchKeys, identity_keys
from sso_bridge.model import (
    AuditAction,
    Candidate,
    FederatedIdentity,
    LinkMethod,
    LocalAccount,
    MatchKey,
    Outcome,
)
from sso_bridge.oidc.flow import PendingLogin
from sso_bridge.saml.requests import build_authn_request
from sso_bridge.saml.response import process_response

__all__ = ["LoginFlow"]


RETRYABLE_CODES = frozenset({"mfa.wrong_code", "mfa.totp_step_reused"})
"""Second-factor refusals that leave the challenge open (attempts left)."""


def _weak(candidate: Candidate) -> bool:
    """Matched on full name and birth date alone (docs/matching.md, match strength)."""
    return (
        MatchKey.SNILS not in candidate.matched_on and MatchKey.PASSPORT not in candidate.matched_on
    )


class LoginFlow(BrokerCore):
    """The login entry points: IdP, chooser, local login, second factor."""

    # -- starting --------------------------------------------------------------------------

    def begin_federated(
        self, provider: str, client: Client, *, kept: str | None = None
    ) -> Redirect:
        """Send the browser to the IdP to log in."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            return self._to_idp(self._provider(provider), client, Purpose.LOGIN, kept=kept)

    def begin_local(self, client: Client, *, kept: str | None = None) -> LocalLoginForm:
        """The local login form (organisation + login + password)."""
        now = self._clock.now()
        step = self._new_step(client, State.START, Purpose.LOGIN, kept=kept)
        step = step.evolve(advance(step.state, Event.BEGIN_LOCAL))
        self._steps.save(step, now)
        return LocalLoginForm(step.step_id, "local")

    def _to_idp(
        self,
        provider: Provider,
        client: Client,
        purpose: Purpose,
        *,
        kept: str | None = None,
        account_id: str | None = None,
        session_id: str | None = None,
    ) -> Redirect:
        now = self._clock.now()
        event = Event.BEGIN_LINK if purpose is Purpose.LINK else Event.BEGIN_FEDERATED
        state = advance(State.START, event)
        step = self._new_step(
            client,
            state,
            purpose,
            provider=provider.name,
            kept=kept,
            account_id=account_id,
            session_id=session_id,
        )
        if isinstance(provider, OidcProvider):
            request = provider.relying_party.start()
            step = attrs.evolve(
                step, step_id=request.pending.state, oidc_pending=request.pending.to_dict()
            )
            url = request.url
        else:
            redirect = build_authn_request(
                provider.config,
                request_store=provider.request_store,
                clock=self._clock,
                relay_state=step.step_id,
            )
            step = attrs.evolve(step, saml_request_id=redirect.request_id)
            url = redirect.url
        self._steps.save(step, now)
        return Redirect(url)

    # -- the IdP's answer ----------------------------------------------------------------

    def finish_oidc(
        self, provider: str, params: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings:
        """The OIDC callback (its query parameters)."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            step = self._steps.take(
                params.get("state", ""), browser_hash(client.browser_id), now, State.AWAITING_IDP
            )
            chosen = self._provider(provider)
            if not isinstance(chosen, OidcProvider) or step.provider != chosen.name:
                raise BrokerError(
                    "the answer came from another provider", code="broker.wrong_provider"
                )
            if step.oidc_pending is None:  # pragma: no cover - written by _to_idp
                raise BrokerError("the login step is damaged", code="broker.step_unknown")
            pending = PendingLogin.from_dict(step.oidc_pending)
            result = chosen.relying_party.complete(params, pending)
            id_token = result.tokens.id_token
            claims = id_token.claims if id_token is not None else {}
            amr = claims.get("amr")
            acr = claims.get("acr")
            mfa = self.policy.second_factor.idp_reported_mfa(
                amr=[a for a in amr if isinstance(a, str)] if isinstance(amr, list) else None,
                acr=acr if isinstance(acr, str) else None,
            )
            if self.policy.staff is not None and chosen.relying_party.config.esia_person_api:
                organisations = chosen.relying_party.esia_roles(
                    result.tokens, employers=self.policy.staff.employers.values()
                )
                step = attrs.evolve(step, organisations=organisations)
            return self._after_idp(step, result.identity, client, idp_mfa=mfa)

    def finish_saml(
        self, provider: str, form: Mapping[str, str], client: Client
    ) -> StepResult | LinkedFromSettings:
        """The SAML assertion consumer service (the POSTed form)."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            chosen = self._provider(provider)
            if not isinstance(chosen, SamlProvider):
                raise BrokerError(
                    "the answer came from another provider", code="broker.wrong_provider"
                )
            relay = form.get("RelayState")
            step: Step | None = None
            if relay:
                step = self._steps.take(
                    relay, browser_hash(client.browser_id), now, State.AWAITING_IDP
                )
                if step.provider != chosen.name:
                    raise BrokerError(
                        "the answer came from another provider", code="broker.wrong_provider"
                    )
            result = process_response(
                form.get("SAMLResponse", ""),
                chosen.config,
                request_store=chosen.request_store,
                replay_cache=chosen.replay_cache,
                clock=self._clock,
            )
            if step is None:
                if not result.idp_initiated:
                    raise BrokerError(
                        "the SAML answer came without its login step", code="broker.step_unknown"
                    )
                step = self._new_step(
                    client, State.AWAITING_IDP, Purpose.LOGIN, provider=chosen.name
                )
            elif result.in_response_to != step.saml_request_id:
                raise BrokerError(
                    "the SAML answer is for a login started elsewhere",
                    code="broker.saml_request_mismatch",
                )
            mfa = self.policy.second_factor.idp_reported_mfa(authn_context=result.authn_context)
            return self._after_idp(
                step,
                result.identity,
                client,
                idp_mfa=mfa,
                not_on_or_after=result.session_not_on_or_after,
                idp_initiated=result.idp_initiated,
            )

    def _after_idp(
        self,
        step: Step,
        identity: FederatedIdentity,
        client: Client,
        *,
        idp_mfa: bool,
        not_on_or_after: datetime | None = None,
        idp_initiated: bool = False,
    ) -> StepResult | LinkedFromSettings:
        keys, _ = identity_keys(identity, self.directory.blind_index)
        step = attrs.evolve(
            step,
            identity=StepIdentity.of(identity, keys),
            idp_mfa=idp_mfa,
            not_on_or_after=not_on_or_after,
        )
        if step.purpose is Purpose.LINK:
            if idp_initiated:  # pragma: no cover - a LINK step always has its request
                raise BrokerError("IdP-initiated logins never link", code="broker.idp_initiated")
            return self._link_from_settings(step, identity, client)
        linked = self.directory.linked_accounts(identity.issuer, identity.subject)
        if linked:
            active = [a for a in linked if a.active]
            if not active:
                raise BrokerError(
                    "every account linked to this person is blocked; ask the school administrator",
                    code="broker.account_blocked",
                )
            ids = tuple(a.account_id for a in active)
            if len(active) == 1:
                return self._settle(step, active[0], None, client, switchable=ids)
            return self._chooser(step, active, linking=False, weak=())
        if idp_initiated:
            raise BrokerError(
                "no account is linked to this person, and a login started at the IdP never "
                "links one: log in from this site instead",
                code="broker.idp_initiated",
            )
        return self._match(step, identity, keys, client)

    def _match(
        self, step: Step, identity: FederatedIdentity, keys: MatchKeys, client: Client
    ) -> StepResult:
        decision = self._matcher.match(identity, keys)
        if decision.outcome is Outcome.LOCAL_LOGIN_REQUIRED:
            return self._to_local_login(step, "unverified", (), ())
        if decision.outcome is Outcome.NO_MATCH:
            step = step.evolve(advance(step.state, Event.NO_MATCH))
            raise BrokerError(
                "no school account is linked to this state-portal account. Log in with the "
                "login and password from your school, then link the state-portal account in "
                "your personal settings",
                code="broker.no_match",
            )
        weak = tuple(c.account.account_id for c in decision.candidates if _weak(c))
        if decision.outcome is Outcome.AUTO_LINK:
            candidate = decision.candidates[0]
            if self.policy.auto_link == "strong" and weak:
                return self._to_local_login(
                    step,
                    "prove",
                    (candidate.account.account_id,),
                    (candidate.account.org_id,),
                )
            return self._settle(step, candidate.account, LinkMethod.AUTO, client)
        accounts = [c.account for c in decision.candidates]
        return self._chooser(step, accounts, linking=True, weak=weak)

    def _chooser(
        self,
        step: Step,
        accounts: Sequence[LocalAccount],
        *,
        linking: bool,
        weak: tuple[str, ...],
    ) -> ChooseAccount:
        now = self._clock.now()
        nxt = step.evolve(
            advance(step.state, Event.SEVERAL_ACCOUNTS),
            offered=tuple(a.account_id for a in accounts),
            weak=weak,
            link_method=LinkMethod.CHOSEN if linking else None,
        )
        self._steps.save(nxt, now)
        return ChooseAccount(nxt.step_id, self._options(accounts), linking)

    def _options(self, accounts: Sequence[LocalAccount]) -> tuple[AccountOption, ...]:
        options = []
        for account in accounts:
            organization = self.directory.get_organization(account.org_id)
            name = account.org_id if organization is None else organization.name
            options.append(AccountOption(account.account_id, account.org_id, name, account.roles))
        return tuple(sorted(options, key=lambda o: (o.organization, o.org_id, o.account_id)))

    def _to_local_login(
        self, step: Step, reason: str, offered: tuple[str, ...], orgs: tuple[str, ...]
    ) -> LocalLoginForm:
        now = self._clock.now()
        nxt = step.evolve(
            advance(step.state, Event.LOCAL_LOGIN_NEEDED),
            offered=offered,
            link_method=LinkMethod.LOCAL_LOGIN,
        )
        self._steps.save(nxt, now)
        return LocalLoginForm(nxt.step_id, reason, orgs)

    def _link_from_settings(
        self, step: Step, identity: FederatedIdentity, client: Client
    ) -> LinkedFromSettings:
        if step.account_id is None:  # pragma: no cover - written by begin_link
            raise BrokerError("the link step is damaged", code="broker.step_unknown")
        advance(step.state, Event.LINK_MADE)
        keys = None if step.identity is None else step.identity.keys
        result = self._linker.link_from_settings(
            identity, step.account_id, RequestContext(actor=ACTOR, ip=client.ip), keys=keys
        )
        return LinkedFromSettings(result.link)

    # -- the person's answers --------------------------------------------------------------

    def choose(
        self, step_id: str, account_id: str, client: Client
    ) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        """The chooser's answer: one of the offered accounts, and nothing else."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            step = self._steps.take(
                step_id, browser_hash(client.browser_id), now, State.CHOOSING_ACCOUNT
            )
            identity = step.identity
            issuer = None if identity is None else identity.issuer
            subject = None if identity is None else identity.subject
            if account_id not in step.offered:
                advance(step.state, Event.REFUSE)
                raise BrokerError(
                    "that account was not offered to you; start the login again",
                    code="broker.not_offered",
                )
            self._record(
                AuditAction.CHOICE, client, account_id=account_id, issuer=issuer, subject=subject
            )
            if (
                step.link_method is LinkMethod.CHOSEN
                and self.policy.auto_link == "strong"
                and account_id in step.weak
            ):
                account = self.directory.get_account(account_id)
                orgs = () if account is None else (account.org_id,)
                return self._to_local_login(step, "prove", (account_id,), orgs)
            account = self.directory.get_account(account_id)
            if account is None:
                raise AccountNotFound(f"no local account {account_id!r}")
            return self._settle(step, account, step.link_method, client)

    def local_login(
        self, step_id: str, org_id: str, login: str, password: str, client: Client
    ) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        """Organisation + login + password. A wrong password or a locked account gives the
        form again with the error; five wrong passwords lock the account."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            step = self._steps.take(
                step_id, browser_hash(client.browser_id), now, State.AWAITING_LOCAL_LOGIN
            )
            try:
                account = self._check_password(step, org_id, login, password)
            except BridgeError as exc:
                self._record(
                    AuditAction.LOGIN_REFUSED,
                    client,
                    account_id=getattr(exc, "account_id", None),
                    code=exc.code,
                    detail=exc.message,
                )
                nxt = step.evolve(advance(step.state, Event.RETRY))
                self._steps.save(nxt, now)
                reason = (
                    "local"
                    if step.identity is None
                    else ("prove" if step.offered else "unverified")
                )
                return LocalLoginForm(nxt.step_id, reason, self._orgs_of(step.offered), exc)
            return self._settle(step, account, step.link_method, client)

    def _orgs_of(self, account_ids: tuple[str, ...]) -> tuple[str, ...]:
        found = (self.directory.get_account(i) for i in account_ids)
        return tuple(sorted({a.org_id for a in found if a is not None}))

    def _check_password(self, step: Step, org_id: str, login: str, password: str) -> LocalAccount:
        now = self._clock.now()
        account = self.directory.find_by_login(org_id.strip(), login.strip()) if login else None
        if account is None or (step.offered and account.account_id not in step.offered):
            self.passwords.check_unknown(password)
            raise _BadCredentials(None)
        try:
            self.passwords.check(account.account_id, password, now)
        except BridgeError as exc:
            if exc.code == "auth.bad_password":
                raise _BadCredentials(account.account_id) from None
            exc.account_id = account.account_id  # type: ignore[attr-defined]
            raise
        if not account.active:
            error = BrokerError(
                "this school account is blocked; ask the school administrator to unblock it",
                code="auth.account_blocked",
            )
            error.account_id = account.account_id  # type: ignore[attr-defined]
            raise error
        return account

    def second_factor(
        self, step_id: str, code: str, client: Client, *, session_token: str | None = None
    ) -> LoggedIn | SecondFactorForm:
        """The one-time or TOTP code. A wrong code with attempts left gives the form again;
        the fifth wrong code ends the challenge and the login."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            step = self._steps.take(
                step_id, browser_hash(client.browser_id), now, State.AWAITING_SECOND_FACTOR
            )
            account_id = step.account_id or ""
            try:
                self._challenges.verify(step.challenge_id or "", account_id, code.strip(), now)
            except BridgeError as exc:
                self._record(
                    AuditAction.SECOND_FACTOR_FAILED, client, account_id=account_id, code=exc.code
                )
                if exc.code not in RETRYABLE_CODES:
                    advance(step.state, Event.REFUSE)
                    raise
                nxt = step.evolve(advance(step.state, Event.RETRY))
                self._steps.save(nxt, now)
                challenge = self._challenges.get(step.challenge_id or "", account_id, now)
                if challenge is None:  # pragma: no cover - verify just put it back
                    raise
                return self._code_form(nxt.step_id, challenge, exc)
            self._record(AuditAction.SECOND_FACTOR_PASSED, client, account_id=account_id)
            advance(step.state, Event.SECOND_FACTOR_PASSED)
            if step.purpose is Purpose.SWITCH and step.identity is not None:
                check_linked(self.links, step.identity.issuer, step.identity.subject, account_id)
            account = self.directory.get_account(account_id)
            if account is None:
                raise AccountNotFound(f"no local account {account_id!r}")
            return self._log_in(step, account, step.link_method, client, True, session_token)

    def resend_code(self, step_id: str, client: Client) -> SecondFactorForm:
        """Send a new one-time code (after a cooldown, a few times at most)."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            now = self._clock.now()
            step = self._steps.take(
                step_id, browser_hash(client.browser_id), now, State.AWAITING_SECOND_FACTOR
            )
            nxt = step.evolve(advance(step.state, Event.RETRY))
            self._steps.save(nxt, now)
            try:
                challenge = self._challenges.resend(
                    step.challenge_id or "", step.account_id or "", now
                )
            except BridgeError as exc:
                current = self._challenges.get(step.challenge_id or "", step.account_id or "", now)
                if current is None:
                    raise
                return self._code_form(nxt.step_id, current, exc)
            return self._code_form(nxt.step_id, challenge)


class _BadCredentials(BrokerError):
    """Unknown login and wrong password look the same to the person."""

    def __init__(self, account_id: str | None) -> None:
        super().__init__("wrong organisation, login or password", code="auth.bad_password")
        self.account_id = account_id
