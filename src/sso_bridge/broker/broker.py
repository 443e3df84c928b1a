"""The broker that web adapters call: the login (see :mod:`.login`) plus what a
logged-in person does — switch account, link and unlink the state-portal account, see
and end sessions, enrol an authenticator app, log out."""

from __future__ import annotations

import attrs

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import ACTOR
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.login import LoginFlow
from sso_bridge.broker.results import LoggedIn, Redirect, SecondFactorForm
from sso_bridge.broker.states import Event, State, advance
from sso_bridge.broker.steps import Purpose, StepIdentity, browser_hash, check_linked
from sso_bridge.errors import AccountNotFound
from sso_bridge.linking import RequestContext
from sso_bridge.mfa import TotpEnrolment, confirm_enrolment, new_secret, otpauth_uri
from sso_bridge.model import AuditAction, Link, LinkMethod
from sso_bridge.sessions import Session

__all__ = ["Broker"]


class Broker(LoginFlow):
    """Runs logins and the settings of logged-in people over the ports it holds.

    Build it once per process with the shared stores; it keeps no per-login state of
    its own, so several instances over the same database and ephemeral store act as one.
    """

    # -- account switch ------------------------------------------------------------------

    def switch_account(
        self, token: str, account_id: str, client: Client
    ) -> LoggedIn | SecondFactorForm:
        """Switch the session to another of the person's linked accounts, under a new
        token; a second factor first if that account needs one and none was passed. The
        links are read again here: an account unlinked since the login is refused
        (``broker.not_linked``, audited)."""
        with self._audited(client, AuditAction.LOGIN_REFUSED):
            session = self.authenticate(token, client)
            if account_id not in session.accounts:
                raise BrokerError(
                    "that account is not one of yours in this session", code="broker.not_offered"
                )
            if session.issuer is not None and session.subject is not None:
                check_linked(self.links, session.issuer, session.subject, account_id)
            account = self.directory.get_account(account_id)
            if account is None:
                raise AccountNotFound(f"no local account {account_id!r}")
            self._record(
                AuditAction.CHOICE,
                client,
                account_id=account_id,
                issuer=session.issuer,
                subject=session.subject,
            )
            step = self._new_step(
                client,
                advance(State.START, Event.BEGIN_SWITCH),
                Purpose.SWITCH,
                session_id=session.session_id,
                idp_mfa=session.second_factor,
            )
            if session.issuer is not None and session.subject is not None:
                step = attrs.evolve(
                    step, identity=StepIdentity.unmatched(session.issuer, session.subject)
                )
            return self._settle(step, account, None, client, session_token=token)

    # -- linking from settings -------------------------------------------------------------

    def begin_link(self, token: str, provider: str, client: Client) -> Redirect:
        """Link the state-portal account to the logged-in account: off to the IdP (any
        assurance level; the person confirmed on the settings page first)."""
        with self._audited(client, AuditAction.LINK_REFUSED):
            session = self.authenticate(token, client)
            return self._to_idp(
                self._provider(provider),
                client,
                Purpose.LINK,
                account_id=session.account_id,
                session_id=session.session_id,
            )

    def linked_accounts(self, session: Session) -> list[Link]:
        """The state-portal accounts linked to the session's account."""
        return self.links.links_for_account(session.account_id)

    def unlink(self, token: str, issuer: str, subject: str, client: Client) -> Link:
        """Remove a link of the session's own account; open linking steps of this browser
        are revoked with it."""
        with self._audited(client, AuditAction.LINK_REFUSED):
            session = self.authenticate(token, client)
            link = self._linker.unlink(
                issuer,
                subject,
                session.account_id,
                RequestContext(actor=ACTOR, ip=client.ip),
                method=LinkMethod.SETTINGS,
            )
            self._steps.drop_browser(browser_hash(client.browser_id))
            return link

    # -- sessions --------------------------------------------------------------------------

    def sessions_of(self, session: Session) -> list[Session]:
        """The active sessions of the session's account, newest first."""
        found = self.sessions.sessions_of(session.account_id, self._clock.now())
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def revoke_session(self, token: str, session_id: str, client: Client) -> None:
        """End one of the account's own sessions (``broker.session_not_yours`` otherwise)."""
        session = self.authenticate(token, client)
        own = {
            s.session_id for s in self.sessions.sessions_of(session.account_id, self._clock.now())
        }
        if session_id not in own:
            raise BrokerError("no such session of yours", code="broker.session_not_yours")
        self.sessions.revoke(session_id)
        self._record(
            AuditAction.SESSION_REVOKED,
            client,
            account_id=session.account_id,
            detail="ended from the sessions page",
        )

    def logout(self, token: str | None, client: Client) -> None:
        """End the session and drop the browser's open login steps (the linking proofs)."""
        self._steps.drop_browser(browser_hash(client.browser_id))
        if not token:
            return
        session = self.sessions.revoke_token(token, now=self._clock.now())
        if session is not None:
            self._record(
                AuditAction.SESSION_END,
                client,
                account_id=session.account_id,
                subject=session.subject,
                detail="logout",
            )

    # -- authenticator app -------------------------------------------------------------------

    def totp_enrolment(self, session: Session, *, issuer: str = "sso_bridge") -> TotpEnrolment:
        """A new secret and its ``otpauth://`` URI; nothing is stored until confirmed."""
        secret = new_secret("sha1")
        account = self.directory.get_account(session.account_id)
        label = session.account_id if account is None or not account.login else account.login
        uri = otpauth_uri(secret, account_name=label, issuer=issuer)
        return TotpEnrolment(secret=secret, uri=uri)

    def confirm_totp(self, session: Session, secret: bytes, code: str, client: Client) -> None:
        """Store the authenticator app's secret once a code from it verifies."""
        with self._audited(client, AuditAction.SECOND_FACTOR_FAILED):
            confirm_enrolment(
                self.credentials, session.account_id, secret, code.strip(), self._clock.now()
            )
            self._record(
                AuditAction.SECOND_FACTOR_PASSED,
                client,
                account_id=session.account_id,
                detail="authenticator app enrolled",
            )
