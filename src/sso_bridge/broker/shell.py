"""The shell around the machine: it feeds events in, answers the machine's questions
through the ports, and performs the effects. All of the login's I/O is here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from sso_bridge.broker.core import ACTOR
from sso_bridge.broker.errors import BadCredentials
from sso_bridge.broker.machine import MachineEvent, MachineState, transition
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import STORED, StoredState
from sso_bridge.broker.offered import Call, OfferedAccounts
from sso_bridge.broker.results import (
    AccountOption,
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
from sso_bridge.broker.settings_link import SettingsLink
from sso_bridge.errors import BridgeError
from sso_bridge.linking import RequestContext
from sso_bridge.matching.ports import get_organisation
from sso_bridge.mfa import BadPassword, TotpStepReused, WrongCode
from sso_bridge.mfa.errors import LimitReached, TooManyCodes, TooManyLogins
from sso_bridge.mfa.limits import Limit
from sso_bridge.mfa.recovery import RecoveryCodes
from sso_bridge.model import AuditAction, Challenge, LinkMethod, LocalAccount
from sso_bridge.observe import log_audit_event, log_unrecorded_login
from sso_bridge.sessions import SavedRequest, Session

__all__ = ["Call", "MachineShell", "Reply"]

_V = TypeVar("_V")

Reply = StepResult | LinkedFromSettings | LinkRequested | StepUpDone


class MachineShell(SettingsLink, OfferedAccounts):
    """Runs the machine for one request and performs what it says."""

    def _run(self, state: MachineState, event: MachineEvent, call: Call) -> Reply:
        reply: Reply | None = None
        while True:
            outcome = transition(self.machine_policy, state, event, call.now)
            ask: fx.Ask | None = None
            refusing = any(isinstance(e, fx.Refuse) for e in outcome.effects)
            for effect in outcome.effects:
                if isinstance(effect, _ASKS):
                    ask = effect
                elif refusing and isinstance(effect, fx.Record):
                    fields = attrs.asdict(effect, recurse=False)
                    action = fields.pop("action")
                    self._record_refusal(self._event(action, call.client, call.now, **fields))
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
            return self._link_from_settings(effect, call)
        if isinstance(effect, fx.Hide):
            self._hide(effect.issuer, effect.subject, effect.account_id, call, hide=True)
            return None
        if isinstance(effect, fx.IssueSession):
            return self._issue(effect, call)
        if isinstance(effect, fx.StepUpPassed):
            return self._step_ups.passed(effect, call.now, self.policy.sessions.absolute_lifetime)
        return self._show(effect, _stored(state), call)

    def _show(self, effect: fx.Effect, state: StoredState, call: Call) -> Reply:
        step_id = self._steps.save(state, call.now)
        if isinstance(effect, fx.SendToIdp):
            return Redirect(effect.url, effect.fields)
        if isinstance(effect, fx.ShowChooser):
            linked = effect.linked if effect.linking else [a.account_id for a in effect.accounts]
            options = self._options(effect.accounts, frozenset(linked))
            return ChooseAccount(step_id, options, effect.linking, effect.hiding)
        if isinstance(effect, fx.ShowLocalLogin):
            return LocalLoginForm(step_id, effect.reason, effect.organisations, effect.error)
        if isinstance(effect, fx.ShowCodeForm):
            left = max(0, self._challenges.max_attempts - effect.challenge.attempts)
            return SecondFactorForm(step_id, effect.challenge, left, effect.error)
        raise AssertionError(f"unknown effect {effect!r}")  # pragma: no cover

    def _options(
        self, accounts: Sequence[LocalAccount], linked: frozenset[str]
    ) -> tuple[AccountOption, ...]:
        options = []
        for account in accounts:
            organisation = get_organisation(self.directory, account.org_id)
            name = account.org_id if organisation is None else organisation.name
            options.append(
                AccountOption(
                    account.account_id,
                    account.org_id,
                    name,
                    account.roles,
                    account.account_id in linked,
                )
            )
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
        """Start (or rotate) the session, then write its login and session-start records;
        if they cannot be written the new session is ended again, so that a session never
        exists without its records (a link made earlier in the request stays: it committed
        together with its own record)."""
        now, client, token = call.now, call.client, call.session_token
        previous: str | None = None
        if effect.switch and token is not None:
            token, session = self.sessions.rotate(
                token, now=now, account_id=effect.account_id, second_factor=effect.second_factor
            )
        else:
            fresh, session = self._start_session(effect, call)
            previous, token = token, fresh
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
        try:
            recorded = self.audit.record_many((login, start))
        except BaseException as exc:
            self._undo_session(token, session, now, exc)
            raise
        for event in recorded:
            log_audit_event(event)
        if not (effect.switch and call.session_token is not None):
            self._keep_offer(effect, session, call)
        if previous is not None:
            self.sessions.revoke_token(previous, now=now)
        return LoggedIn(token, session, self._restore(effect.kept, effect.account_id, call))

    def _start_session(self, effect: fx.IssueSession, call: Call) -> tuple[str, Session]:
        accounts = effect.accounts
        if effect.add_linked and effect.issuer is not None and effect.subject is not None:
            linked = self.directory.linked_accounts(effect.issuer, effect.subject)
            accounts = tuple(
                sorted({*(a.account_id for a in linked if a.active), effect.account_id})
            )
        return self.sessions.start(
            effect.account_id,
            ip=call.client.ip,
            user_agent=call.client.user_agent,
            now=call.now,
            issuer=effect.issuer,
            subject=effect.subject,
            accounts=accounts,
            not_on_or_after=effect.not_on_or_after,
            second_factor=effect.second_factor,
            method=effect.method,
            idp=effect.idp_session,
        )

    def _undo_session(
        self, token: str, session: Session, now: datetime, cause: BaseException
    ) -> None:
        # The token never reached the person; if even ending the session fails, it is
        # unreachable and lapses with its lifetime, and the event says so.
        try:
            self.sessions.revoke_token(token, now=now)
            undone = True
        except Exception:
            undone = False
        log_unrecorded_login(session.account_id, session.issuer, cause, session_ended=undone)

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
            decision = self._matcher.match(identity.identity(), identity.keys)
            in_play = {c.account.account_id for c in decision.candidates}.union(ask.linked)
            if len(in_play) < 2:  # one account in all: nothing to hide it for
                return ev.Matched(decision)
            return ev.Matched(decision, self._hidden(identity.issuer, identity.subject))
        if isinstance(ask, fx.AskPassword):
            return ev.PasswordChecked(self._check_password(ask, call))
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
            return ev.ChallengeOpened(self._open_challenge(ask, call))
        if isinstance(ask, fx.AskCode):
            return ev.CodeChecked(self._limited(self._check_code(ask, now), call, ask.account_id))
        if isinstance(ask, fx.AskRecoveryCode):
            verdict = self._check_recovery_code(ask, now)
            return ev.CodeChecked(self._limited(verdict, call, ask.account_id))
        return ev.CodeResent(self._limited(self._resend(ask, call), call, ask.account_id))

    # -- limits (docs/security.md, "Limits") -----------------------------------------------------

    def _ip_limit(self, name: str, limit: Limit | None, call: Call) -> timedelta | None:
        """Count one hit from the client's IP; past ``limit``, the wait."""
        return self._limiter.hit(name, str(call.client.ip), limit, call.now)

    def _limited(self, verdict: _V, call: Call, account_id: str | None) -> _V:
        """Audit a refusal by a limit (``limit_reached``, with its code); ``verdict`` as is."""
        error = getattr(verdict, "error", None)
        if isinstance(error, LimitReached | TooManyLogins):
            self._record(
                AuditAction.LIMIT_REACHED,
                call.client,
                call.now,
                account_id=account_id,
                code=error.code,
                detail=error.message,
            )
        return verdict

    def _open_challenge(
        self, ask: fx.AskOpenChallenge, call: Call
    ) -> Challenge | ev.ChallengeNotOpened:
        limits = self.policy.limits
        try:
            wait = self._ip_limit("ip-code-starts", limits.code_starts_per_ip, call)
            if wait is not None:
                raise TooManyCodes("from this network address", wait, code="mfa.ip_code_limit")
            return self._challenges.start(
                ask.account_id, ask.channel, ask.destination, call.now, owner=ask.owner
            )
        except LimitReached as exc:
            return self._limited(ev.ChallengeNotOpened(exc), call, ask.account_id)

    def _check_password(
        self, ask: fx.AskPassword, call: Call
    ) -> ev.PasswordPassed | ev.PasswordFailed:
        now = call.now
        wait = self._ip_limit("ip-logins", self.policy.limits.logins_per_ip, call)
        if wait is not None:
            return self._limited(ev.PasswordFailed(TooManyLogins(wait), None), call, None)
        login = ask.login.strip()
        account = self.directory.find_by_login(ask.org_id.strip(), login) if login else None
        if account is None or (ask.only and account.account_id not in ask.only):
            try:  # answered as a wrong password is, lockout included
                self.passwords.check_unknown_login(ask.org_id, login, ask.password, now)
            except BadPassword:
                pass
            except BridgeError as exc:
                return ev.PasswordFailed(exc, None)
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

    def _check_recovery_code(
        self, ask: fx.AskRecoveryCode, now: datetime
    ) -> ev.CodePassed | ev.CodeWrong | ev.CodeRefused:
        """A recovery code in place of the challenge's code. It is tried only while the
        challenge is open and the account's second factor is not locked; one that does not
        pass is the challenge's wrong code (the same attempts, budget and refusals)."""
        as_code = fx.AskCode(ask.challenge_id, ask.account_id, ask.code, ask.recheck)
        if not self._recovery_open(ask, now):
            return self._check_code(as_code, now)
        left = RecoveryCodes(self.credentials).use(ask.account_id, ask.code)
        if left is None:
            return self._check_code(as_code, now)
        linked = None
        if ask.recheck is not None:
            links = self.links.links_for_subject(*ask.recheck)
            linked = frozenset(link.account_id for link in links)
        return ev.CodePassed(self.directory.get_account(ask.account_id), linked, left)

    def _recovery_open(self, ask: fx.AskRecoveryCode, now: datetime) -> bool:
        budget = self._challenges.budget
        try:
            if budget is not None:
                budget.check(ask.account_id, now)
        except BridgeError:
            return False  # locked: the challenge's own check refuses it, as for any code
        return self._challenges.get(ask.challenge_id, ask.account_id, now) is not None

    def _resend(self, ask: fx.AskResend, call: Call) -> ev.Resent | ev.ResendFailed:
        now = call.now
        try:
            wait = self._ip_limit("ip-code-starts", self.policy.limits.code_starts_per_ip, call)
            if wait is not None:
                raise TooManyCodes("from this network address", wait, code="mfa.ip_code_limit")
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
    fx.AskRecoveryCode,
    fx.AskResend,
)


def _stored(state: MachineState) -> StoredState:
    if state.kind not in STORED:  # pragma: no cover - the table sends replies from stored states
        raise AssertionError(f"a reply from the {state.kind} state")
    return state  # type: ignore[return-value]
