"""Logging out (docs/logout.md): the broker's session always, the IdP's session too when
the policy says so and the provider can; everywhere for a person; and the logouts the IdP
starts (an OpenID Connect back-channel logout token, a SAML LogoutRequest).

The local session ends first, whatever happens at the IdP afterwards: an IdP that cannot
be reached, refuses or never answers leaves the person logged out here, and the failure is
audited. A logout sent to the IdP is kept as a *logout step* under its ``state`` (hashed),
bound to the browser, until the IdP sends the browser back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Final, Literal

import attrs

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import BrokerCore
from sso_bridge.broker.errors import LogoutError
from sso_bridge.broker.results import Redirect
from sso_bridge.broker.steps import browser_hash, offer_proof_owner
from sso_bridge.errors import BridgeError
from sso_bridge.idp import Answer, PostTo, RedirectTo
from sso_bridge.logout import HearsIdpLogout, IdpLogoutNotice, LoggedOutAtIdp, LogsOutAtIdp
from sso_bridge.model import AuditAction
from sso_bridge.saml.slo import SamlLogout
from sso_bridge.sessions import Session

__all__ = ["LOGOUT_STEP_KIND", "LoggedOut", "LogoutFlow", "LogoutMode"]

LOGOUT_STEP_KIND: Final = "logout_step"
"""The :class:`~sso_bridge.ephemeral.EphemeralStore` kind of logouts sent to the IdP."""

LogoutMode = Literal["always", "offer", "never"]


@attrs.frozen
class LoggedOut:
    """A logout done here. ``go`` is where the browser goes next to log out at the IdP
    (None: nowhere; the person is logged out). ``problem`` is the code of a logout at the
    IdP that could not be sent (the local one is done all the same). ``ended`` counts the
    sessions ended."""

    go: Redirect | None = None
    problem: str | None = None
    ended: int = 0


def _redirect(go: RedirectTo | PostTo) -> Redirect:
    return Redirect(go.url, go.fields) if isinstance(go, PostTo) else Redirect(go.url)


def _step_key(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


class LogoutFlow(BrokerCore):
    """Logout over the broker's ports (see the module's text)."""

    # -- what the logout page offers --------------------------------------------------------

    def logout_mode(self, session: Session) -> LogoutMode:
        """How logging out ``session`` treats its IdP session: ``"never"`` for a session
        that no IdP able to log out gave; ``"always"`` where shared-computer mode applies;
        else :attr:`BrokerPolicy.logout_at_idp`."""
        idp = session.idp
        provider = self._providers.get(idp.provider) if idp is not None else None
        if idp is None or not isinstance(provider, LogsOutAtIdp) or not provider.can_log_out():
            return "never"
        account = self.directory.get_account(session.account_id)
        org_id = account.org_id if account is not None else None
        if self.policy.shared_computer_applies(idp.provider, org_id):
            return "always"
        return self.policy.logout_at_idp

    def _at_idp(self, session: Session, asked: bool | None) -> bool:
        mode = self.logout_mode(session)
        return mode == "always" or (mode == "offer" and bool(asked))

    # -- the person's logout ----------------------------------------------------------------

    def logout(self, token: str | None, client: Client, *, at_idp: bool | None = None) -> LoggedOut:
        """End the session and drop the browser's open login steps; then, when
        :meth:`logout_mode` allows (``at_idp``: the person's choice where it is
        ``"offer"``), send the browser to the IdP to end its session there too."""
        now = self._clock.now()
        self._steps.drop_browser(browser_hash(client.browser_id))
        session = self.sessions.revoke_token(token, now=now) if token else None
        if session is None:
            return LoggedOut()
        return self._ended(session, client, now, AuditAction.SESSION_END, "logout", 1, at_idp)

    def logout_everywhere(
        self, token: str, client: Client, *, at_idp: bool | None = None
    ) -> LoggedOut:
        """End every session of every account of the person (the session's accounts and
        the accounts linked to its IdP login now), on every browser; audited. The IdP
        session of this browser ends too as :meth:`logout` decides."""
        now = self._clock.now()
        session = self._authenticate(token, client, now)
        accounts = set(session.accounts) | {session.account_id}
        if session.issuer is not None and session.subject is not None:
            linked = self.links.links_for_subject(session.issuer, session.subject)
            accounts |= {link.account_id for link in linked}
        self._steps.drop_browser(browser_hash(client.browser_id))
        # this browser's own session first, unmarked: only the others were ended elsewhere
        self.sessions.revoke(session.session_id)
        ended = 1 + self._end_accounts(sorted(accounts), now)
        detail = f"{ended} sessions of {len(accounts)} accounts ended"
        return self._ended(
            session, client, now, AuditAction.LOGOUT_EVERYWHERE, detail, ended, at_idp
        )

    def _ended(
        self,
        session: Session,
        client: Client,
        now: datetime,
        action: AuditAction,
        detail: str,
        ended: int,
        at_idp: bool | None,
    ) -> LoggedOut:
        """Audit a logout of ``ended`` sessions, then go on to the IdP if it is to."""
        self._steps.drop_browser(offer_proof_owner(session))  # the switcher's proof
        self._record(
            action, client, now, account_id=session.account_id, subject=session.subject,
            detail=detail,
        )  # fmt: skip
        if not self._at_idp(session, at_idp):
            return LoggedOut(ended=ended)
        return self._send_to_idp(session, client, ended=ended)

    def _end_accounts(self, accounts: Iterable[str], now: datetime) -> int:
        return sum(self.sessions.revoke_account(account_id, now=now) for account_id in accounts)

    def _send_to_idp(self, session: Session, client: Client, *, ended: int) -> LoggedOut:
        now = self._clock.now()
        idp = session.idp
        provider = self._providers.get(idp.provider) if idp is not None else None
        if idp is None or not isinstance(provider, LogsOutAtIdp):  # _at_idp has ruled it out
            return LoggedOut(ended=ended)
        who = {"account_id": session.account_id, "subject": session.subject}
        try:
            started = provider.start_logout(idp, now=now)
        except BridgeError as exc:
            self._record(AuditAction.LOGOUT_AT_IDP, client, now, code=exc.code, **who)
            return LoggedOut(problem=exc.code, ended=ended)
        if started.state is not None:
            stored = {
                "provider": provider.name,
                "browser": browser_hash(client.browser_id),
                "remembered": dict(started.remembered),
            }
            self._ephemeral.put(
                LOGOUT_STEP_KIND,
                _step_key(started.state),
                json.dumps(stored, separators=(",", ":")).encode(),
                now + self.policy.step_lifetime,
                now,
            )
        self._record(AuditAction.LOGOUT_AT_IDP, client, now, detail="sent to the IdP", **who)
        return LoggedOut(go=_redirect(started.go), ended=ended)

    def finish_logout(
        self, provider: str, answer: Answer, client: Client, *, query_string: str | None = None
    ) -> LoggedOutAtIdp:
        """The IdP sent the browser back from a logout: check its answer against the logout
        step of this browser (``broker.logout_unknown`` when there is none). ESIA's answer
        carries nothing to check. Refusals are audited; the session here is over anyway."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGOUT_AT_IDP, now):
            chosen = self._provider(provider)
            if not isinstance(chosen, LogsOutAtIdp):
                raise LogoutError(
                    f"{chosen.title} takes no logout answers", code="broker.logout_unsupported"
                )
            state = chosen.logout_state(answer)
            if state is None and isinstance(chosen, SamlLogout):
                raise LogoutError(
                    "the logout answer has no RelayState", code="broker.logout_unknown"
                )
            remembered = None
            if state is not None:
                data = self._ephemeral.consume(LOGOUT_STEP_KIND, _step_key(state), now)
                step = json.loads(data) if data is not None else None
                if (
                    not isinstance(step, dict)
                    or step.get("provider") != chosen.name
                    or step.get("browser") != browser_hash(client.browser_id)
                ):
                    raise LogoutError(
                        "no logout of this browser is waiting for that answer",
                        code="broker.logout_unknown",
                    )
                remembered = step.get("remembered")
            done = chosen.finish_logout(answer, remembered, now=now, query_string=query_string)
            self._record(AuditAction.LOGOUT_AT_IDP, client, now, detail="the IdP confirmed")
            return done

    # -- logouts the IdP starts ---------------------------------------------------------------

    def backchannel_logout(self, provider: str, logout_token: str, client: Client) -> int:
        """An OpenID Connect back-channel logout token from the IdP: verified, then the
        sessions it names are ended; how many. Refusals are audited."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGOUT_FROM_IDP, now):
            chosen = self._provider(provider)
            if not isinstance(chosen, HearsIdpLogout):
                raise LogoutError(
                    f"{chosen.title} sends no logout tokens", code="broker.logout_unsupported"
                )
            notice = chosen.read_logout_token(logout_token, now=now, replay=self._ephemeral)
            return self._end_noticed(notice, client, "back-channel logout token")

    def idp_logout_request(
        self, provider: str, params: Answer, client: Client, *, query_string: str | None = None
    ) -> Redirect:
        """A SAML LogoutRequest from the IdP (over Redirect when ``query_string`` is given,
        else POST): checked, the sessions it names ended, and the signed LogoutResponse
        to send the browser back with. Refusals are audited."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGOUT_FROM_IDP, now):
            chosen = self._provider(provider)
            if not isinstance(chosen, SamlLogout):
                raise LogoutError(
                    f"{chosen.title} sends no LogoutRequest", code="broker.logout_unsupported"
                )
            notice, incoming = chosen.read_idp_logout(params, now=now, query_string=query_string)
            self._end_noticed(notice, client, "SAML LogoutRequest")
            return _redirect(chosen.answer_idp_logout(incoming, now=now))

    def _end_noticed(self, notice: IdpLogoutNotice, client: Client, how: str) -> int:
        """End the sessions ``notice`` names: by each of its sids (those that also agree
        with its subject or NameID), else by NameID, else by subject."""
        now = self._clock.now()
        if notice.sids:
            found = [
                s
                for sid in notice.sids
                for s in self.sessions.end_named(
                    notice.issuer, "sid", sid, now, subject=notice.subject, name_id=notice.name_id
                )
            ]
        elif notice.name_id is not None:
            found = self.sessions.end_named(notice.issuer, "name_id", notice.name_id, now)
        elif notice.subject is not None:
            found = self.sessions.end_named(notice.issuer, "sub", notice.subject, now)
        else:
            found = []
        for session in found:
            self._record(
                AuditAction.LOGOUT_FROM_IDP,
                client,
                now,
                account_id=session.account_id,
                issuer=notice.issuer,
                subject=session.subject,
                detail=how,
            )
        if not found:
            self._record(
                AuditAction.LOGOUT_FROM_IDP,
                client,
                now,
                issuer=notice.issuer,
                detail=f"{how}: no session of ours",
            )
        return len(found)
