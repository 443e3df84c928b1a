"""The broker's ports and policies, its audit records, and the session checks every
request of a logged-in person goes through."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import argon2

from sso_bridge.audit import AuditLog
from sso_bridge.broker.config import AlertHook, BrokerPolicy, Client, Provider, SecurityAlert
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.step_up_records import StepUpRecords
from sso_bridge.broker.steps import StepStore
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.inline import refuse_blocking
from sso_bridge.linking import Linker, LinkStore
from sso_bridge.linking.requests import LinkRequestStore
from sso_bridge.matching import AccountDirectory, Matcher
from sso_bridge.mfa import CodeChallenges, CredentialStore, LocalPasswords, Sender, TotpVerifier
from sso_bridge.mfa.limits import Limiter, SecondFactorBudget
from sso_bridge.model import AuditAction, AuditEvent, EsiaOrganisation, LocalAccount
from sso_bridge.observe import log_audit_event, log_unrecorded
from sso_bridge.sessions import (
    BrowserIds,
    RequestKeeper,
    SavedRequest,
    Session,
    SessionError,
    SessionExpired,
    SessionIpChanged,
    SessionManager,
)

__all__ = ["ACTOR", "At", "BrokerCore", "machine_policy"]

ACTOR = "web"
"""The actor written to links and audit records made by people through the broker."""


def _subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.digest(secret, b"sso_bridge broker " + purpose.encode(), hashlib.sha256)


def machine_policy(policy: BrokerPolicy) -> Policy:
    """The policy as the machine reads it: the values it decides by, and the second-factor
    and staff-role rules as pure functions of the account and the login."""
    factor, staff = policy.second_factor, policy.staff

    def second_factor(account: LocalAccount, issuer: str | None, idp_mfa: bool) -> bool:
        return factor.requires(account, issuer=issuer, idp_reported_mfa=idp_mfa)

    def employee(account: LocalAccount, organisations: tuple[EsiaOrganisation, ...] | None) -> bool:
        if staff is None or not staff.applies(account.roles, account.org_id):
            return True
        return organisations is not None and staff.allows(account.org_id, organisations)

    return Policy(
        auto_link=policy.auto_link,
        step_lifetime=policy.step_lifetime,
        second_factor=second_factor,
        staff=employee,
        skew=policy.skew,
        shared_lifetime=(
            None if policy.shared_computer is None else policy.shared_computer.session_lifetime
        ),
    )


class At:
    """A clock stopped at one request's ``now``, for the parts that take a :class:`Clock`."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


class BrokerCore:
    """Ports, policies, audit and session checks; the login and settings build on it.

    ``secret`` (32 bytes or more, the same on every instance) keys the one-time code
    hashes, the CSRF tokens, the encryption of kept requests and the browser ids.
    ``password_hasher`` is the argon2id hasher of local passwords (RFC 9106's second
    recommendation when None).
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
        password_hasher: argon2.PasswordHasher | None = None,
    ) -> None:
        if len(secret) < 32:
            raise ConfigError("the broker secret needs 32 bytes or more", code="config.invalid")
        self.policy = policy or BrokerPolicy()
        self.machine_policy = machine_policy(self.policy)
        self.directory = directory
        self.links = links
        self.audit = audit
        self.credentials = credentials
        self._clock = clock or SystemClock()
        self._alert = alert
        self._providers = {p.name: p for p in providers}
        if len(self._providers) != len(providers):
            raise ConfigError("two providers share a name", code="config.invalid")
        self._steps = StepStore(store)
        self._ephemeral = store
        self._step_ups = StepUpRecords(store)
        if self.policy.queue_mismatched_links and not isinstance(links, LinkRequestStore):
            raise ConfigError(
                "queue_mismatched_links needs a link store that keeps link requests",
                code="config.invalid",
            )
        self._linker = Linker(directory, links, audit, self._clock)
        self._matcher = Matcher(directory)
        self._set_up_services(store, sender, secret, credentials, password_hasher)

    def _set_up_services(
        self,
        store: EphemeralStore,
        sender: Sender,
        secret: bytes,
        credentials: CredentialStore,
        password_hasher: argon2.PasswordHasher | None,
    ) -> None:
        """Sessions, kept requests, browser ids, codes, limits and passwords, each keyed by
        its own subkey of ``secret``."""
        self.sessions = SessionManager(store, self.policy.sessions, _subkey(secret, "csrf"))
        self._keeper = RequestKeeper(store, _subkey(secret, "kept"))
        self.browser_ids = BrowserIds(_subkey(secret, "browser"))
        self.totp = TotpVerifier(credentials)
        self._challenges = CodeChallenges(
            store, sender, _subkey(secret, "codes"), totp=self.totp, limits=self.policy.limits
        )
        self._limiter = Limiter(store)
        self.passwords = LocalPasswords(
            credentials,
            hasher=password_hasher,
            store=store,
            second_factor=self._challenges.budget,
        )

    def _linker_at(self, now: datetime) -> Linker:
        """The linker, with the request's time."""
        return Linker(self.directory, self.links, self.audit, At(now))

    @property
    def clock(self) -> Clock:
        """The broker's clock: tools acting beside it (the operator's console) read the
        time from it, so that both agree on what has expired."""
        return self._clock

    @property
    def second_factor_budget(self) -> SecondFactorBudget | None:
        """The budget of wrong second-factor codes per account (None: not limited)."""
        return self._challenges.budget

    # -- providers -------------------------------------------------------------------------

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The configured providers, enabled or not, in configuration order."""
        return tuple(self._providers.values())

    def provider(self, name: str) -> Provider:
        """The enabled provider ``name``: ``broker.unknown_provider`` when there is none,
        ``broker.provider_disabled`` when it is switched off."""
        return self._provider(name)

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise BrokerError(
                f"no provider is called {name[:64]!r}", code="broker.unknown_provider"
            )
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
        now: datetime,
        *,
        account_id: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            at=now,
            actor=ACTOR,
            issuer=issuer,
            subject=subject,
            account_id=account_id,
            ip=str(client.ip),
            code=code,
            detail=detail,
            user_agent=client.user_agent,
        )

    def _record(
        self, action: AuditAction, client: Client, now: datetime, **fields: str | None
    ) -> None:
        """Write one audit record (the fields of :meth:`_event`)."""
        log_audit_event(self.audit.record(self._event(action, client, now, **fields)))

    @contextmanager
    def _audited(self, client: Client, action: AuditAction, now: datetime) -> Iterator[None]:
        """Record a refusal of the enclosed step (with its code) and let it propagate."""
        try:
            yield
        except BridgeError as exc:
            self._record_refusal(
                self._event(action, client, now, code=exc.code, detail=exc.message)
            )
            raise

    def _record_refusal(self, event: AuditEvent) -> None:
        """Write a refusal's record; when the trail cannot take it the refusal still goes
        out, and the record becomes a structured log event instead."""
        try:
            log_audit_event(self.audit.record(event))
        except BridgeError as exc:
            log_unrecorded(event, exc)

    # -- sessions ------------------------------------------------------------------------

    def authenticate(self, token: str | None, client: Client) -> Session:
        """The session behind ``token`` for a request from ``client``.

        A request from another IP ends the session, writes a security event and calls
        the alert hook; a session that timed out is recorded as ended.
        """
        return self._authenticate(token, client, self._clock.now())

    def _authenticate(self, token: str | None, client: Client, now: datetime) -> Session:
        try:
            return self.sessions.validate(token or "", ip=client.ip, now=now)
        except SessionIpChanged as exc:
            self._ip_changed(exc, client, now)
            raise
        except SessionExpired as exc:
            refuse_blocking()  # the record is written on a worker thread (sso_bridge.inline)
            self._record(
                AuditAction.SESSION_END, client, now, account_id=exc.account_id, code=exc.code
            )
            raise

    def _ip_changed(self, exc: SessionIpChanged, client: Client, now: datetime) -> None:
        session, bound, seen = exc.session, str(exc.bound), str(exc.seen)
        self._record(
            AuditAction.SECURITY,
            client,
            now,
            account_id=session.account_id,
            subject=session.subject,
            code=exc.code,
            detail=f"session of {bound} used from {seen}; ended",
        )
        if self._alert is not None:
            self._alert(
                SecurityAlert(
                    code=exc.code,
                    message="a session was used from another IP address and was ended",
                    at=now,
                    account_id=session.account_id,
                    ip=seen,
                    previous_ip=bound,
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

    def keep_again(self, request: SavedRequest, client: Client) -> str:
        """Keep a request given back by a login once more, for the host's own page to fill
        in (``client`` carries the browser id issued at that login)."""
        return self._keeper.keep(request, browser_id=client.browser_id, now=self._clock.now())

    def take_kept(self, keep_id: str, client: Client, account_id: str) -> SavedRequest | None:
        """The request kept under ``keep_id`` for this browser and account, once; None
        when there is none (used, expired, another browser's or another account's)."""
        try:
            return self._keeper.restore(
                keep_id, browser_id=client.browser_id, account_id=account_id, now=self._clock.now()
            )
        except SessionError:
            return None
