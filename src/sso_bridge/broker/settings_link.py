"""What the shell does to link from settings: the link, or, where the host queues them,
a link request for an administrator when the identity does not agree with the account
(docs/reauthentication.md, "Queued link requests")."""

from __future__ import annotations

from sso_bridge.broker.core import ACTOR, At, BrokerCore
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.offered import Call
from sso_bridge.broker.results import LinkedFromSettings, LinkRequested
from sso_bridge.linking import RequestContext
from sso_bridge.linking.linker import IdentityMismatch
from sso_bridge.linking.requests import LinkRequests, LinkRequestStore

__all__ = ["SettingsLink"]


class SettingsLink(BrokerCore):
    """Performs :class:`~sso_bridge.broker.machine.effects.LinkFromSettings`."""

    def _link_from_settings(
        self, effect: fx.LinkFromSettings, call: Call
    ) -> LinkedFromSettings | LinkRequested:
        """Link; a refusal for disagreement alone (already audited ``link_refused``) is
        queued when ``queue_mismatched_links`` is on. Any other refusal (a SNILS conflict,
        a blocked account) is never queued."""
        ctx = RequestContext(actor=ACTOR, ip=str(call.client.ip))
        person = effect.identity.identity()
        linker = self._linker_at(call.now)
        try:
            made = linker.link_from_settings(
                person, effect.account_id, ctx, keys=effect.identity.keys
            )
        except IdentityMismatch as exc:
            store = self.links
            if not self.policy.queue_mismatched_links or not isinstance(store, LinkRequestStore):
                raise
            requests = LinkRequests(store, linker, self.audit, At(call.now))
            request, _ = requests.submit(
                effect.account_id,
                person.issuer,
                person.subject,
                exc.differing,
                ip=ctx.ip,
                actor=ACTOR,
            )
            return LinkRequested(request)
        return LinkedFromSettings(made.link)
