"""The broker that web adapters call: the login (see :mod:`.login`) plus what a
logged-in person does — switch account, link and unlink the state-portal account, see
and end sessions, enrol an authenticator app, log out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import ACTOR
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.logout import LogoutFlow
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import ChoosingAccount, Start
from sso_bridge.broker.recovery import RecoverySettings
from sso_bridge.broker.results import LocalLoginForm, LoggedIn, Redirect, SecondFactorForm
from sso_bridge.broker.shell import Call
from sso_bridge.broker.step_up import StepUpFlow
from sso_bridge.broker.steps import browser_hash, offer_proof_id, offer_proof_owner
from sso_bridge.idp import FRESH
from sso_bridge.linking import RequestContext
from sso_bridge.matching.ports import get_organisation, list_organisations
from sso_bridge.mfa import TotpEnrolment, confirm_enrolment, new_secret, otpauth_uri
from sso_bridge.model import AuditAction, Link, LinkMethod, LocalAccount, Organisation
from sso_bridge.sessions import Session

__all__ = ["Broker"]


class Broker(StepUpFlow, RecoverySettings, LogoutFlow):
    """Runs logins and the settings of logged-in people over the ports it holds.

    Build it once per process with the shared stores; it keeps no per-login state of
    its own, so several instances over the same database and ephemeral store act as one.
    Each public method reads the clock once.
    """

    # -- account switch ------------------------------------------------------------------

    def switch_account(
        self, token: str, account_id: str, client: Client
    ) -> LoggedIn | SecondFactorForm | LocalLoginForm:
        """Switch the session to another of the person's linked accounts, under a new
        token; a second factor first if that account needs one and none was passed. The
        links are read again here: an account unlinked since the login is refused
        (``broker.not_linked``, audited)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            session = self._authenticate(token, client, now)
            issuer, subject = session.issuer, session.subject
            linked_now = proof = None
            if issuer is not None and subject is not None:
                links = self.links.links_for_subject(issuer, subject)
                linked_now = frozenset(link.account_id for link in links)
                if account_id not in linked_now and account_id in session.accounts:
                    proof = self._offer_proof(session, now)
            event = ev.SwitchBegun(
                browser=browser_hash(client.browser_id),
                session_id=session.session_id,
                session_accounts=tuple(session.accounts),
                second_factor=session.second_factor,
                issuer=issuer if subject is not None else None,
                subject=subject if issuer is not None else None,
                account_id=account_id,
                account=self.directory.get_account(account_id),
                linked_now=linked_now,
                proof=proof,
            )
            reply = self._run(Start(), event, Call(client, now, token))
            assert isinstance(reply, LoggedIn | SecondFactorForm | LocalLoginForm)  # noqa: S101
            return reply

    def _offer_proof(self, session: Session, now: datetime) -> ChoosingAccount | None:
        """Take (use up) the proof the login kept for the unlinked accounts it offered."""
        owner = offer_proof_owner(session)
        try:
            state = self._steps.take(offer_proof_id(owner), owner, now)
        except BrokerError:
            return None
        return state if isinstance(state, ChoosingAccount) else None

    # -- accounts not to be offered ----------------------------------------------------------

    def hidden_accounts(self, session: Session) -> list[str]:
        """The accounts the session's person asked not to be offered at login."""
        if session.issuer is None or session.subject is None:
            return []
        return sorted(self._hidden(session.issuer, session.subject))

    def hide_account(self, token: str, account_id: str, client: Client) -> bool:
        """Stop offering one of the session's other accounts at the person's logins (from
        the next login on); False when it was hidden already."""
        return self._offered_again(token, account_id, client, hide=True)

    def show_account(self, token: str, account_id: str, client: Client) -> bool:
        """Offer a hidden account again; False when it was not hidden."""
        return self._offered_again(token, account_id, client, hide=False)

    def _offered_again(self, token: str, account_id: str, client: Client, *, hide: bool) -> bool:
        now = self._clock.now()
        with self._audited(client, AuditAction.LOGIN_REFUSED, now):
            session = self._authenticate(token, client, now)
            issuer, subject = session.issuer, session.subject
            if issuer is None or subject is None:
                raise BrokerError(
                    "only a login through the state portal offers accounts",
                    code="broker.not_federated",
                )
            if hide and (account_id not in session.accounts or account_id == session.account_id):
                raise BrokerError(
                    "that account is not one of your other accounts in this session",
                    code="broker.not_offered",
                )
            return self._hide(issuer, subject, account_id, Call(client, now, token), hide=hide)

    # -- linking from settings -------------------------------------------------------------

    def begin_link(self, token: str, provider: str, client: Client) -> Redirect:
        """Link the state-portal account to the logged-in account: off to the IdP (any
        assurance level; the person confirmed on the settings page first) for a fresh
        authentication, which the answer must prove (``auth_time``, ``AuthnInstant``);
        the identity must then agree with the account (docs/reauthentication.md)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LINK_REFUSED, now):
            session = self._authenticate(token, client, now)
            chosen = self._provider(provider)
            request, url, fields = self._idp_request(chosen, now, FRESH)
            event = ev.LinkBegun(
                browser_hash(client.browser_id),
                chosen.name,
                request,
                url,
                session.account_id,
                session.session_id,
                fields,
            )
            return self._redirect(self._run(Start(), event, Call(client, now)))

    def linked_accounts(self, session: Session) -> list[Link]:
        """The state-portal accounts linked to the session's account."""
        return self.links.links_for_account(session.account_id)

    def unlink(self, token: str, issuer: str, subject: str, client: Client) -> Link:
        """Remove a link of the session's own account; open linking steps of this browser
        are revoked with it."""
        now = self._clock.now()
        with self._audited(client, AuditAction.LINK_REFUSED, now):
            session = self._authenticate(token, client, now)
            link = self._linker_at(now).unlink(
                issuer,
                subject,
                session.account_id,
                RequestContext(actor=ACTOR, ip=str(client.ip)),
                method=LinkMethod.SETTINGS,
            )
            self._steps.drop_browser(browser_hash(client.browser_id))
            self._steps.drop_browser(offer_proof_owner(session))
            return link

    # -- sessions --------------------------------------------------------------------------

    def sessions_of(self, session: Session) -> list[Session]:
        """The active sessions of the session's account, newest first."""
        found = self.sessions.sessions_of(session.account_id, self._clock.now())
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def revoke_session(self, token: str, session_id: str, client: Client) -> None:
        """End one of the account's own sessions (``broker.session_not_yours`` otherwise)."""
        now = self._clock.now()
        session = self._authenticate(token, client, now)
        own = {s.session_id for s in self.sessions.sessions_of(session.account_id, now)}
        if session_id not in own:
            raise BrokerError("no such session of yours", code="broker.session_not_yours")
        self.sessions.revoke(session_id, reason="elsewhere", now=now)
        self._record(
            AuditAction.SESSION_REVOKED,
            client,
            now,
            account_id=session.account_id,
            detail="ended from the sessions page",
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
        now = self._clock.now()
        with self._audited(client, AuditAction.SECOND_FACTOR_FAILED, now):
            confirm_enrolment(self.credentials, session.account_id, secret, code.strip(), now)
            self._record(
                AuditAction.SECOND_FACTOR_PASSED,
                client,
                now,
                account_id=session.account_id,
                detail="authenticator app enrolled",
            )

    # -- what the web layer shows and checks ---------------------------------------------------

    def csrf_token(self, session: Session, binding: str | None = None) -> str:
        """The session's CSRF token, or the token of ``binding`` (a value that must come
        back unchanged, such as a sealed secret); an HMAC under the broker's key."""
        if binding is None:
            return self.sessions.csrf_token(session)
        return self.sessions.csrf_token_for(binding)

    def check_csrf(self, session: Session, token: str | None, binding: str | None = None) -> None:
        """Refuse (``session.csrf_invalid``) a form whose ``token`` is not the session's
        (or, with ``binding``, not ``binding``'s)."""
        if binding is None:
            self.sessions.check_csrf(session, token)
        else:
            self.sessions.check_csrf_for(binding, token)

    def issue_browser_id(self) -> tuple[str, str]:
        """A new server-issued browser id and the signed value its cookie carries."""
        return self.browser_ids.issue()

    def verify_browser_id(self, value: str | None) -> str | None:
        """The browser id in a cookie ``value`` this broker signed; None otherwise."""
        return self.browser_ids.verify(value)

    def totp_enrolled(self, account_id: str) -> bool:
        """Whether the account has an authenticator app."""
        return self.totp.enrolled(account_id)

    def account_and_organisation(
        self, account_id: str
    ) -> tuple[LocalAccount, Organisation | None] | None:
        """The account and its organisation (None if unknown), for a label; None when
        there is no such account."""
        account = self.directory.get_account(account_id)
        if account is None:
            return None
        return account, get_organisation(self.directory, account.org_id)

    def organisations(self, org_ids: Iterable[str] | None = None) -> list[Organisation]:
        """The organisations ``org_ids`` (those the directory knows), or all of them."""
        if org_ids is None:
            return list(list_organisations(self.directory))
        found = (get_organisation(self.directory, org_id) for org_id in org_ids)
        return [organisation for organisation in found if organisation is not None]

    # The old spellings of the two methods above, kept for one release.
    account_and_organization = account_and_organisation
    organizations = organisations
