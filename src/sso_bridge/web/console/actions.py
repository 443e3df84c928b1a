"""What an operator does to an account from the console, each step audited with the
operator as its actor (``operator:<id>``). Usable without the pages::

    actions = OperatorActions(broker)
    actions.end_sessions(Operator.of("olga", ip="192.0.2.1"), "t1")
"""

from __future__ import annotations

from datetime import datetime

import attrs

from sso_bridge.broker import Broker
from sso_bridge.clock import Clock
from sso_bridge.errors import AccountNotFound
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.requests import LinkRequest, LinkRequests, LinkRequestStore
from sso_bridge.mfa.limits import SecondFactorBudget
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod, LocalAccount
from sso_bridge.observe import log_audit_event
from sso_bridge.web.console.errors import ConsoleError, ConsoleInputError

__all__ = ["ACTOR_PREFIX", "MAX_OPERATOR", "Operator", "OperatorActions", "broker_clock"]

ACTOR_PREFIX = "operator:"
"""How the audit trail names a console operator: ``operator:<id>``."""
MAX_OPERATOR = 64
"""The longest operator id the console takes from the host's role check."""


def check_operator(value: object) -> str | None:
    """``value`` when it is an operator id (1 to :data:`MAX_OPERATOR` printable
    characters, not only spaces), else None."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_OPERATOR:
        return None
    return value if value.isprintable() else None


@attrs.frozen
class Operator:
    """Who acts in the console, and from where: the audit records' actor, IP and user
    agent."""

    operator_id: str
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, operator_id: str, ip: str | None = None, user_agent: str | None = None) -> Operator:
        """An operator; ``console.bad_input`` for an id :func:`check_operator` refuses."""
        if check_operator(operator_id) is None:
            raise ConsoleInputError("an operator id is 1 to 64 printable characters")
        return cls(operator_id, ip, user_agent)

    @property
    def actor(self) -> str:
        """The audit records' actor: ``operator:<id>``."""
        return ACTOR_PREFIX + self.operator_id


def broker_clock(broker: Broker) -> Clock:
    """The broker's clock, so that the console and the broker agree on the time."""
    return broker.clock


class OperatorActions:
    """Unlink, unlock, reset the authenticator app, end sessions, approve or refuse link
    requests. Each checks its target exists (``account.not_found``, ``link.not_found``,
    ``link_request.not_found``) and writes one audit record naming the operator.

    ``requests`` keeps pending link requests (None: the broker's link store when it keeps
    them; else approving and refusing are ``console.requests_off``).
    """

    def __init__(self, broker: Broker, requests: LinkRequestStore | None = None) -> None:
        self.broker = broker
        self.clock = broker_clock(broker)
        if requests is None and isinstance(broker.links, LinkRequestStore):
            requests = broker.links
        self.requests: LinkRequests | None = None
        if requests is not None:
            linker = Linker(broker.directory, broker.links, broker.audit, self.clock)
            self.requests = LinkRequests(requests, linker, broker.audit, self.clock)

    def account(self, account_id: str) -> LocalAccount:
        """The account, or ``account.not_found``."""
        found = self.broker.directory.get_account(account_id)
        if found is None:
            raise AccountNotFound(f"no local account {account_id[:64]!r}")
        return found

    def link_requests(self) -> LinkRequests:
        """The pending link requests, or ``console.requests_off``."""
        if self.requests is None:
            raise ConsoleError("no link request store", code="console.requests_off")
        return self.requests

    def second_factor_budget(self) -> SecondFactorBudget | None:
        """The broker's budget of wrong second-factor codes (None: not limited)."""
        return self.broker.second_factor_budget

    # -- the actions ---------------------------------------------------------------------

    def unlink(self, operator: Operator, account_id: str, issuer: str, subject: str) -> Link:
        """Remove the account's link to (issuer, subject); audited ``unlink``."""
        self.account(account_id)
        ctx = RequestContext(actor=operator.actor, ip=operator.ip)
        linker = Linker(self.broker.directory, self.broker.links, self.broker.audit, self.clock)
        return linker.unlink(issuer, subject, account_id, ctx, method=LinkMethod.ADMIN)

    def unlock_password(self, operator: Operator, account_id: str) -> None:
        """Lift the password lock-out and forget the failures; audited ``unlock``."""
        self.account(account_id)
        self.broker.credentials.unlock(account_id)
        self._record(AuditAction.UNLOCK, operator, account_id, "password lock-out lifted")

    def unlock_second_factor(self, operator: Operator, account_id: str) -> None:
        """Lift the second factor's lock and forget the wrong codes; audited ``unlock``."""
        self.account(account_id)
        budget = self.second_factor_budget()
        if budget is not None:
            budget.unlock(account_id)
        self._record(AuditAction.UNLOCK, operator, account_id, "second-factor lock lifted")

    def reset_totp(self, operator: Operator, account_id: str) -> None:
        """Forget the authenticator app and the recovery codes; audited ``credentials``."""
        self.account(account_id)
        self.broker.credentials.remove_totp(account_id)
        self._record(
            AuditAction.CREDENTIALS,
            operator,
            account_id,
            "authenticator app and recovery codes removed",
        )

    def end_sessions(self, operator: Operator, account_id: str) -> int:
        """End every session of the account (their browsers are told it was done from
        elsewhere); how many. Audited ``sessions_ended``."""
        self.account(account_id)
        now = self.clock.now()
        ended = self.broker.sessions.revoke_account(account_id, now=now)
        self._record(
            AuditAction.SESSIONS_ENDED, operator, account_id, f"{ended} session(s) ended", now
        )
        return ended

    def approve(self, operator: Operator, request_id: str) -> Link:
        """Make the requested link (an ``admin`` link, audited ``link``) and consume it."""
        return self.link_requests().approve(request_id, operator.actor)

    def refuse(self, operator: Operator, request_id: str) -> LinkRequest:
        """Consume the request without linking; audited ``link_request_refused``."""
        return self.link_requests().refuse(request_id, operator.actor)

    def _record(
        self,
        action: AuditAction,
        operator: Operator,
        account_id: str,
        detail: str,
        now: datetime | None = None,
    ) -> None:
        event = AuditEvent(
            action=action,
            at=now or self.clock.now(),
            actor=operator.actor,
            account_id=account_id,
            ip=operator.ip,
            user_agent=operator.user_agent,
            detail=detail,
        )
        log_audit_event(self.broker.audit.record(event))
