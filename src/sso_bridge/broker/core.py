"""The broker's ports and the steps every path shares: settling on an account, the
second factor, issuing the session, checking it, and the audit records of all that."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from sso_bridge.audit import AuditLog
from sso_bridge.broker.config import (
    AlertHook,
    BrokerPolicy,
    Client,
    Provider,
    SecurityAlert,
)
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.results import LoggedIn, SecondFactorForm
from sso_bridge.broker.states import Event, State, advance
from sso_bridge.broker.steps import (
    Purpose,
    Step,
    StepIdentity,
    StepStore,
    browser_hash,
    new_step_id,
)
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import BridgeError
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.matching import Matcher
from sso_bridge.mfa import (
    Challenge,
    CodeChallenges,
    CredentialStore,
    LocalPasswords,
    Sender,
    TotpVerifier,
)
from sso_bridge.model import AuditAction, AuditEvent, LinkMethod, LocalAccount
from sso_bridge.sessions import BrowserIds, RequestKeeper, SavedRequest, Session, SessionManager
from sso_bridge.store.base import AccountDirectory, LinkStore
from sso_bridge.store.ephemeral import EphemeralStore

__all__ = ["ACTOR", "BrokerCore"]

ACTOR = "web"
"""The actor written to links and audit records made by people through the broker."""

IP_CHANGED = "session.ip_changed"


def _subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.digest(secret, b"sso_bridge broker " + purpose.encode(), hashlib.sha256)


class BrokerCore:
    """Ports, policies and the shared steps; :class:`~sso_bridge.broker.Broker` adds the
    entry points.

    ``secret`` (32 bytes or more, the same on every instance) keys the one-time code
    hashes, the CSRF tokens, the encryption of kept requests and the browser ids.
    """

    def __init__(
        self,
        *,
        directory: AccountDirectory,
        links: LinkStore,
        audit: AuditLog,
        store: EphemeralStore,
        credentials: CredentialStore,
        sender: Sender,
        secret: bytes,
        providers: Sequence[Provider] = (),
        policy: BrokerPolicy | None = None,
        clock: Clock | None = None,
        alert: AlertHook | None = None,
    ) -> None:
        if len(secret) < 32:
            raise BrokerError("the broker secret needs 32 bytes or more", code="config.invalid")
        self.policy = policy or BrokerPolicy()
        self.directory = directory
        self.links = links
        self.audit = audit
        self.credentials = credentials
        self._clock = clock or SystemClock()
        self._alert = alert
        self._providers = {p.name: p for p in providers}
        if len(self._providers) != len(providers):
            raise BrokerError("two providers share a name", code="config.invalid")
        self._steps = StepStore(store)
        self._linker = Linker(directory, links, audit, self._clock)
        self._matcher = Matcher(directory)
        self.sessions = SessionManager(store, self.policy.sessions, _subkey(secret, "csrf"))
        self._keeper = RequestKeeper(store, _subkey(secret, "kept"))
        self.browser_ids = BrowserIds(_subkey(secret, "browser"))
        self.totp = TotpVerifier(credentials)
        self._challenges = CodeChallenges(store, sender, _subkey(secret, "codes"), totp=self.totp)
        self.passwords = LocalPasswords(credentials)

    # -- providers -------------------------------------------------------------------------

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The configured providers, enabled or not, in configuration order."""
        return tuple(self._providers.values())

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise BrokerError(f"no provider is called {name!r}", code="broker.unknown_provider")
        if not provider.enabled:
            raise BrokerError(
                f"login through {provider.title} is switched off", code="broker.provider_disabled"
            )
        return provider

    # -- audit ---------------------------------------------------------------------------

    def _event(
        self,
        action: AuditAction,
        client: Client,
        *,
        account_id: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            at=self._clock.now(),
            actor=ACTOR,
            issuer=issuer,
            subject=subject,
            account_id=account_id,
            ip=client.ip,
            code=code,
            detail=detail,
            user_agent=client.user_agent,
        )

    def _record(self, action: AuditAction, client: Client, **fields: str | None) -> None:
        """Write one audit record (the fields of :meth:`_event`)."""
        self.audit.record(self._event(action, client, **fields))

    @contextmanager
    def _audited(self, client: Client, action: AuditAction) -> Iterator[None]:
        """Record a refusal of the enclosed step (with its code) and let it propagate."""
        try:
            yield
        except BridgeError as exc:
            self._record(action, client, code=exc.code, detail=exc.message)
            raise

    # -- settling on one account ----------------------------------------------------------

    def _settle(
        self,
        step: Step,
        account: LocalAccount,
        link_method: LinkMethod | None,
        client: Client,
        *,
        session_token: str | None = None,
        switchable: tuple[str, ...] | None = None,
    ) -> LoggedIn | SecondFactorForm:
        """The account is known: run the second factor if policy asks, else log in.

        ``switchable``: the person's accounts when the caller has just read them.
        """
        if not account.active:
            raise BrokerError(
                "this school account is blocked; ask the school administrator",
                code="broker.account_blocked",
            )
        self._check_employment(step, account)
        issuer = None if step.identity is None else step.identity.issuer
        needs = self.policy.second_factor.requires(
            account, issuer=issuer, idp_reported_mfa=step.idp_mfa
        )
        if needs:
            now = self._clock.now()
            challenge = self._start_challenge(account.account_id, step.browser)
            nxt = step.evolve(
                advance(step.state, Event.SECOND_FACTOR_NEEDED),
                account_id=account.account_id,
                link_method=link_method,
                challenge_id=challenge.challenge_id,
            )
            self._steps.save(nxt, now)
            return self._code_form(nxt.step_id, challenge)
        advance(step.state, Event.ACCOUNT_SETTLED)
        return self._log_in(
            step, account, link_method, client, step.idp_mfa, session_token, switchable
        )

    def _check_employment(self, step: Step, account: LocalAccount) -> None:
        """The staff-role policy: ESIA must list the person in the account's organisation."""
        staff = self.policy.staff
        if staff is None or step.identity is None:
            return
        if not staff.applies(account.roles, account.org_id):
            return
        if step.organisations is None or not staff.allows(account.org_id, step.organisations):
            raise BrokerError(
                "ESIA does not list you as working for this organisation, so this staff "
                "account cannot be used; ask the school administrator",
                code="broker.not_an_employee",
            )

    def _code_form(
        self, step_id: str, challenge: Challenge, error: BridgeError | None = None
    ) -> SecondFactorForm:
        left = max(0, self._challenges.max_attempts - challenge.attempts)
        return SecondFactorForm(step_id, challenge, left, error)

    def _start_challenge(self, account_id: str, browser: str) -> Challenge:
        now = self._clock.now()
        credentials = self.credentials.get(account_id)
        if credentials is not None and credentials.totp_secret is not None:
            return self._challenges.start(account_id, "totp", "", now, owner=browser)
        if credentials is not None and credentials.phone:
            return self._challenges.start(account_id, "sms", credentials.phone, now, owner=browser)
        if credentials is not None and credentials.email:
            return self._challenges.start(
                account_id, "email", credentials.email, now, owner=browser
            )
        raise BrokerError(
            "this account needs a second factor but has no phone, e-mail or authenticator "
            "app on record; ask the school administrator",
            code="broker.no_second_factor",
        )

    def _log_in(
        self,
        step: Step,
        account: LocalAccount,
        link_method: LinkMethod | None,
        client: Client,
        second_factor: bool,
        session_token: str | None,
        switchable: tuple[str, ...] | None = None,
    ) -> LoggedIn:
        identity = step.identity
        if link_method is not None and identity is not None:
            self._link(identity, account.account_id, link_method, client)
        now = self._clock.now()
        issuer = None if identity is None else identity.issuer
        subject = None if identity is None else identity.subject
        if step.purpose is Purpose.SWITCH and session_token is not None:
            token, session = self.sessions.rotate(
                session_token, now=now, account_id=account.account_id, second_factor=second_factor
            )
        else:
            token, session = self.sessions.start(
                account.account_id,
                ip=client.ip,
                user_agent=client.user_agent,
                now=now,
                issuer=issuer,
                subject=subject,
                accounts=switchable or self._switchable(identity, account),
                not_on_or_after=step.not_on_or_after,
                second_factor=second_factor,
                method="local" if identity is None else "federated",
            )
            if session_token is not None:
                self.sessions.revoke_token(session_token, now=now)
        login = self._event(
            AuditAction.LOGIN,
            client,
            account_id=account.account_id,
            issuer=issuer,
            subject=subject,
            detail="second factor done" if second_factor else None,
        )
        start = self._event(
            AuditAction.SESSION_START, client, account_id=account.account_id, subject=subject
        )
        self.audit.record_many((login, start))
        return LoggedIn(token, session, self._restore(step, account.account_id, client))

    def _link(
        self, identity: StepIdentity, account_id: str, method: LinkMethod, client: Client
    ) -> None:
        ctx = RequestContext(actor=ACTOR, ip=client.ip)
        person = identity.identity()
        if method is LinkMethod.AUTO:
            self._linker.link_auto(person, ctx, keys=identity.keys)
        elif method is LinkMethod.CHOSEN:
            self._linker.link_chosen(person, account_id, ctx, keys=identity.keys)
        else:
            self._linker.link_after_local_login(person, account_id, ctx, keys=identity.keys)

    def _switchable(self, identity: StepIdentity | None, account: LocalAccount) -> tuple[str, ...]:
        if identity is None:
            return (account.account_id,)
        linked = self.directory.linked_accounts(identity.issuer, identity.subject)
        return tuple(sorted({*(a.account_id for a in linked if a.active), account.account_id}))

    def _restore(self, step: Step, account_id: str, client: Client) -> SavedRequest | None:
        if step.kept is None:
            return None
        try:
            return self._keeper.restore(
                step.kept,
                browser_id=client.browser_id,
                account_id=account_id,
                now=self._clock.now(),
            )
        except BridgeError as exc:
            self._record(
                AuditAction.SECURITY,
                client,
                account_id=account_id,
                code=exc.code,
                detail="a kept request was discarded",
            )
            return None

    # -- sessions ------------------------------------------------------------------------

    def authenticate(self, token: str | None, client: Client) -> Session:
        """The session behind ``token`` for a request from ``client``.

        A request from another IP ends the session, writes a security event and calls
        the alert hook; a session that timed out is recorded as ended.
        """
        now = self._clock.now()
        try:
            return self.sessions.validate(token or "", ip=client.ip, now=now)
        except BridgeError as exc:
            if exc.code == IP_CHANGED:
                self._ip_changed(exc, client)
            elif exc.code in ("session.expired", "session.idle_expired"):
                account_id = getattr(exc, "account_id", None)
                self._record(AuditAction.SESSION_END, client, account_id=account_id, code=exc.code)
            raise

    def _ip_changed(self, exc: BridgeError, client: Client) -> None:
        session = getattr(exc, "session", None)
        account_id = None if session is None else session.account_id
        previous = None if session is None else session.ip
        self._record(
            AuditAction.SECURITY,
            client,
            account_id=account_id,
            subject=None if session is None else session.subject,
            code=IP_CHANGED,
            detail=f"session of {previous} used from {client.ip}; ended",
        )
        if self._alert is not None:
            self._alert(
                SecurityAlert(
                    code=IP_CHANGED,
                    message="a session was used from another IP address and was ended",
                    at=self._clock.now(),
                    account_id=account_id,
                    ip=client.ip,
                    previous_ip=previous,
                )
            )

    def keep_request(
        self,
        client: Client,
        method: str,
        path: str,
        form: Sequence[tuple[str, str]],
        account_id: str,
    ) -> str:
        """Keep the request that met an expired session; give the id to the next login."""
        request = SavedRequest(method=method, path=path, form=tuple(form), account_id=account_id)
        return self._keeper.keep(request, browser_id=client.browser_id, now=self._clock.now())

    def _new_step(self, client: Client, state: State, purpose: Purpose, **fields: Any) -> Step:
        now = self._clock.now()
        return attrs.evolve(
            Step(
                step_id=new_step_id(),
                state=state,
                purpose=purpose,
                browser=browser_hash(client.browser_id),
                created_at=now,
                expires_at=now + self.policy.step_lifetime,
            ),
            **fields,
        )
