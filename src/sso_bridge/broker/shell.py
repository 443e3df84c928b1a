"""The shell around the machine: it feeds events in, answers the machine's questions
through the ports, and performs the effects. All of the login's I/O is here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import ACTOR, BrokerCore
from sso_bridge.broker.errors import BadCredentials
from sso_bridge.broker.machine import MachineEvent, MachineState, transition
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import STORED, StoredState
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
from sso_bridge.errors import BridgeError
from sso_bridge.linking import RequestContext
from sso_bridge.matching.ports import get_organisation
from sso_bridge.mfa import BadPassword, TotpStepReused, WrongCode
from sso_bridge.model import AuditAction, LinkMethod, LocalAccount
from sso_bridge.sessions import SavedRequest

__all__ = ["Call", "MachineShell", "Reply"]

Reply = StepResult | LinkedFromSettings


@attrs.frozen
class Call:
    """One request: who makes it, its one ``now``, and the session token it holds."""

    client: Client
    now: datetime
    session_token: str | None = attrs.field(default=None, repr=False)


class MachineShell(BrokerCore):
    """Runs the machine for one request and performs what it says."""

    def _run(self, state: MachineState, event: MachineEvent, call: Call) -> Reply:
        reply: Reply | None = None
        while True:
            outcome = transition(self.machine_policy, state, event, call.now)
            ask: fx.Ask | None = None
            for effect in outcome.effects:
                if isinstance(effect, _ASKS):
                    ask = effect
                else:
                    reply = self._perform(effect, outcome.state, call) or reply
            if ask is None:
                break
            state, event = outcome.state, self._answer(ask, call)
        if reply is None:  # pragma: no cover - every rule ends with a reply or a refusal
            raise AssertionError(f"no reply in {outcome.state.kind}")
        return reply

    # -- effects ---------------------------------------------------------------------------

    def _perform(self, effect: fx.Effect, state: MachineState, call: Call) -> Reply | None:
        if isinstance(effect, fx.Refuse):
            raise effect.error
        if isinstance(effect, fx.Record):
            fields = attrs.asdict(effect, recurse=False)
            action = fields.pop("action")
            self._record(action, call.client, call.now, **fields)
            return None
        if isinstance(effect, fx.Link):
            self._link(effect, call)
            return None
        if isinstance(effect, fx.LinkFromSettings):
            ctx = RequestContext(actor=ACTOR, ip=str(call.client.ip))
            person = effect.identity
            made = self._linker_at(call.now).link_from_settings(
                person.identity(), effect.account_id, ctx, keys=person.keys
            )
            return LinkedFromSettings(made.link)
        if isinstance(effect, fx.IssueSession):
            return self._issue(effect, call)
        return self._show(effect, _stored(state), call)

    def _show(self, effect: fx.Effect, state: StoredState, call: Call) -> Reply:
        step_id = self._steps.save(state, call.now)
        if isinstance(effect, fx.SendToIdp):
            return Redirect(effect.url, effect.fields)
        if isinstance(effect, fx.ShowChooser):
            return ChooseAccount(step_id, self._options(effect.accounts), effect.linking)
        if isinstance(effect, fx.ShowLocalLogin):
            return LocalLoginForm(step_id, effect.reason, effect.organisations, effect.error)
        if isinstance(effect, fx.ShowCodeForm):
            left = max(0, self._challenges.max_attempts - effect.challenge.attempts)
            return SecondFactorForm(step_id, effect.challenge, left, effect.error)
        raise AssertionError(f"unknown effect {effect!r}")  # pragma: no cover

    def _options(self, accounts: Sequence[LocalAccount]) -> tuple[AccountOption, ...]:
        options = []
        for account in accounts:
            organisation = get_organisation(self.directory, account.org_id)
            name = account.org_id if organisation is None else organisation.name
            options.append(AccountOption(account.account_id, account.org_id, name, account.roles))
        return tuple(sorted(options, key=lambda o: (o.organisation, o.org_id, o.account_id)))

    def _link(self, effect: fx.Link, call: Call) -> None:
        ctx = RequestContext(actor=ACTOR, ip=str(call.client.ip))
        person, keys = effect.identity.identity(), effect.identity.keys
        linker = self._linker_at(call.now)
        if effect.method is LinkMethod.AUTO:
            linker.link_auto(person, ctx, keys=keys)
        elif effect.method is LinkMethod.CHOSEN:
            linker.link_chosen(person, effect.account_id, ctx, keys=keys)
        else:
            linker.link_after_local_login(person, effect.account_id, ctx, keys=keys)

    def _issue(self, effect: fx.IssueSession, call: Call) -> LoggedIn:
        now, client, token = call.now, call.client, call.session_token
        if effect.switch and token is not None:
            token, session = self.sessions.rotate(
                token, now=now, account_id=effect.account_id, second_factor=effect.second_factor
            )
        else:
            accounts = effect.accounts
            if effect.add_linked and effect.issuer is not None and effect.subject is not None:
                linked = self.directory.linked_accounts(effect.issuer, effect.subject)
                accounts = tuple(
                    sorted({*(a.account_id for a in linked if a.active), effect.account_id})
                )
            fresh, session = self.sessions.start(
                effect.account_id,
                ip=client.ip,
                user_agent=client.user_agent,
                now=now,
                issuer=effect.issuer,
                subject=effect.subject,
                accounts=accounts,
                not_on_or_after=effect.not_on_or_after,
                second_factor=effect.second_factor,
                method=effect.method,
            )
            if token is not None:
                self.sessions.revoke_token(token, now=now)
            token = fresh
        who = {"account_id": effect.account_id, "subject": effect.subject}
        login = self._event(
            AuditAction.LOGIN,
            client,
            now,
            issuer=effect.issuer,
            detail="second factor done" if effect.second_factor else None,
            **who,
        )
        start = self._event(AuditAction.SESSION_START, client, now, **who)
        self.audit.record_many((login, start))
        return LoggedIn(token, session, self._restore(effect.kept, effect.account_id, call))

    def _restore(self, kept: str | None, account_id: str, call: Call) -> SavedRequest | None:
        if kept is None:
            return None
        try:
            return self._keeper.restore(
                kept, browser_id=call.client.browser_id, account_id=account_id, now=call.now
            )
        except BridgeError as exc:
            self._record(
                AuditAction.SECURITY,
                call.client,
                call.now,
                account_id=account_id,
                code=exc.code,
                detail="a kept request was discarded",
            )
            return None

    # -- answers to the machine's questions -----------------------------------------------------

    def _answer(self, ask: fx.Ask, call: Call) -> MachineEvent:
        now = call.now
        if isinstance(ask, fx.AskLinks):
            return ev.LinksRead(tuple(self.directory.linked_accounts(ask.issuer, ask.subject)))
        if isinstance(ask, fx.AskMatch):
            identity = ask.identity
            return ev.Matched(self._matcher.match(identity.identity(), identity.keys))
        if isinstance(ask, fx.AskPassword):
            return ev.PasswordChecked(self._check_password(ask, now))
        if isinstance(ask, fx.AskContacts):
            found = self.credentials.get(ask.account_id)
            if found is None:
                return ev.ContactsRead(ev.Contacts(totp=False, phone="", email=""))
            contacts = ev.Contacts(
                totp=found.totp_secret is not None,
                phone=found.phone or "",
                email=found.email or "",
            )
            return ev.ContactsRead(contacts)
        if isinstance(ask, fx.AskOpenChallenge):
            challenge = self._challenges.start(
                ask.account_id, ask.channel, ask.destination, now, owner=ask.owner
            )
            return ev.ChallengeOpened(challenge)
        if isinstance(ask, fx.AskCode):
            return ev.CodeChecked(self._check_code(ask, now))
        return ev.CodeResent(self._resend(ask, now))

    def _check_password(
        self, ask: fx.AskPassword, now: datetime
    ) -> ev.PasswordPassed | ev.PasswordFailed:
        login = ask.login.strip()
        account = self.directory.find_by_login(ask.org_id.strip(), login) if login else None
        if account is None or (ask.only and account.account_id not in ask.only):
            self.passwords.check_unknown(ask.password)
            return ev.PasswordFailed(BadCredentials(), None)
        try:
            self.passwords.check(account.account_id, ask.password, now)
        except BadPassword:  # reads like an unknown login
            return ev.PasswordFailed(BadCredentials(), account.account_id)
        except BridgeError as exc:  # a lock, no password, a bad hash: says what it is
            return ev.PasswordFailed(exc, account.account_id)
        return ev.PasswordPassed(account)

    def _check_code(
        self, ask: fx.AskCode, now: datetime
    ) -> ev.CodePassed | ev.CodeWrong | ev.CodeRefused:
        try:
            self._challenges.verify(ask.challenge_id, ask.account_id, ask.code, now)
        except (WrongCode, TotpStepReused) as exc:
            challenge = self._challenges.get(ask.challenge_id, ask.account_id, now)
            if challenge is None:  # pragma: no cover - verify just put it back
                return ev.CodeRefused(exc)
            return ev.CodeWrong(exc, challenge)
        except BridgeError as exc:
            return ev.CodeRefused(exc)
        linked = None
        if ask.recheck is not None:
            links = self.links.links_for_subject(*ask.recheck)
            linked = frozenset(link.account_id for link in links)
        return ev.CodePassed(self.directory.get_account(ask.account_id), linked)

    def _resend(self, ask: fx.AskResend, now: datetime) -> ev.Resent | ev.ResendFailed:
        try:
            return ev.Resent(self._challenges.resend(ask.challenge_id, ask.account_id, now))
        except BridgeError as exc:
            current = self._challenges.get(ask.challenge_id, ask.account_id, now)
            return ev.ResendFailed(exc, current)


_ASKS = (
    fx.AskLinks,
    fx.AskMatch,
    fx.AskPassword,
    fx.AskContacts,
    fx.AskOpenChallenge,
    fx.AskCode,
    fx.AskResend,
)


def _stored(state: MachineState) -> StoredState:
    if state.kind not in STORED:  # pragma: no cover - the table sends replies from stored states
        raise AssertionError(f"a reply from the {state.kind} state")
    return state  # type: ignore[return-value]
