"""What the shell does for the accounts a login offers: the ones the person asked not to
be offered, and the linking proof the account switcher keeps for the unlinked ones."""

from __future__ import annotations

from datetime import datetime

import attrs

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import BrokerCore
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine.states import ChoosingAccount, Frame
from sso_bridge.broker.steps import offer_proof_id, offer_proof_owner
from sso_bridge.linking import HiddenAccounts
from sso_bridge.model import AuditAction
from sso_bridge.observe import log_audit_event
from sso_bridge.sessions import Session

__all__ = ["Call", "OfferedAccounts"]


@attrs.frozen
class Call:
    """One request: who makes it, its one ``now``, and the session token it holds."""

    client: Client
    now: datetime
    session_token: str | None = attrs.field(default=None, repr=False)


class OfferedAccounts(BrokerCore):
    """The hidden accounts and the switcher's linking proof (see the module docstring)."""

    def _hidden(self, issuer: str, subject: str) -> frozenset[str]:
        """The accounts the person asked not to be offered (none if the store cannot tell)."""
        if not isinstance(self.links, HiddenAccounts):
            return frozenset()
        return self.links.hidden_accounts(issuer, subject)

    def _hide(self, issuer: str, subject: str, account_id: str, call: Call, *, hide: bool) -> bool:
        """Hide the account from (or offer it again to) issuer and subject, audited."""
        if not isinstance(self.links, HiddenAccounts):
            raise BrokerError(
                "this site's link store cannot hide accounts", code="broker.hide_unsupported"
            )
        action = AuditAction.ACCOUNT_HIDDEN if hide else AuditAction.ACCOUNT_SHOWN
        event = self._event(
            action, call.client, call.now, account_id=account_id, issuer=issuer, subject=subject
        )
        change = self.links.hide_account if hide else self.links.show_account
        changed = change(issuer, subject, account_id, event)
        if changed:
            log_audit_event(event)
        return changed

    def _keep_offer(self, effect: fx.IssueSession, session: Session, call: Call) -> None:
        """Keep the linking proof of the unlinked accounts the login offered, for the
        account switcher, bound to the session, until its absolute deadline."""
        offer, person = effect.offer, effect.person
        if offer is None or person is None or effect.issuer is None or effect.subject is None:
            return
        unlinked = tuple(a for a in offer.unlinked if a != effect.account_id)
        if not unlinked:
            return
        owner = offer_proof_owner(session)
        frame = Frame(owner, call.now, session.expires_at)
        weak = tuple(a for a in offer.weak if a in unlinked)
        proof = ChoosingAccount(frame, person, unlinked, weak, linking=True)
        self._steps.save_as(offer_proof_id(owner), proof, call.now)
