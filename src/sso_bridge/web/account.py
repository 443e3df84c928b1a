"""The routes of a logged-in person: settings, linking, sessions, account switch,
authenticator enrolment and logout. Every state-changing POST checks the CSRF token."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs
from markupsafe import Markup

from sso_bridge.errors import BridgeError
from sso_bridge.mfa import decode_secret, qr_svg
from sso_bridge.mfa.errors import TotpStepReused, WrongCode
from sso_bridge.sessions import Session
from sso_bridge.web.base import RoutesBase, Visit
from sso_bridge.web.devices import device_name
from sso_bridge.web.http import WebResponse

__all__ = ["AccountPages"]

_DONE: Final = frozenset({"linked", "unlinked", "revoked", "totp", "shown"})


def _when(moment: datetime) -> str:
    return f"{moment:%d.%m.%Y %H:%M} UTC"


class AccountPages(RoutesBase):
    """What a person does once logged in."""

    def settings(self, visit: Visit) -> WebResponse:
        """GET /settings: links, sessions, authenticator app, account switch."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        language = self.language_of(visit.request)
        titles = {
            p.issuer: self.templates.provider_name(language, p.name, p.title)
            for p in self.broker.providers
        }
        links = [
            {
                "link": link,
                "title": titles.get(link.issuer, link.issuer),
                "created": _when(link.created_at),
            }
            for link in self.broker.linked_accounts(session)
        ]
        sessions = [
            {
                "session": s,
                "device": device_name(s.user_agent),
                "created": _when(s.created_at),
                "current": s.session_id == session.session_id,
            }
            for s in self.broker.sessions_of(session)
        ]
        done = visit.request.query.get("done")
        return self.page(
            "settings.html",
            session=session,
            account=self._account_label(session.account_id, language),
            links=links,
            sessions=sessions,
            others=[
                (a, self._account_label(a, language))
                for a in session.accounts
                if a != session.account_id
            ],
            hidden=[
                (a, self._account_label(a, language)) for a in self.broker.hidden_accounts(session)
            ],
            providers=self.providers(),
            totp_enrolled=self.broker.totp_enrolled(session.account_id),
            recovery_left=self.broker.recovery_codes_left(session),
            csrf_token=self.csrf_token(session),
            done=done if done in _DONE else None,
        )

    def _account_label(self, account_id: str, language: str) -> str:
        found = self.broker.account_and_organisation(account_id)
        if found is None:
            return account_id
        account, organisation = found
        place = account.org_id if organisation is None else organisation.name
        roles = ", ".join(self.templates.role_name(language, r) for r in account.roles)
        return f"{account.login or account_id} — {place}" + (f" ({roles})" if roles else "")

    def link_page(self, visit: Visit, provider: str) -> WebResponse:
        """GET /link/{provider}: what linking means, and the button that starts it."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        return self.page(
            "link_confirm.html",
            session=session,
            provider=self.provider(provider),
            csrf_token=self.csrf_token(session),
        )

    def link(self, visit: Visit, provider: str) -> WebResponse:
        """POST /link/{provider}: off to the IdP; it comes back to /callback or /acs."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        return self.result(visit, self.broker.begin_link(visit.token or "", provider, visit.client))

    def unlink(self, visit: Visit) -> WebResponse:
        """POST /unlink: issuer and subject of one of the account's links."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        request = visit.request
        self.broker.unlink(
            visit.token or "", request.field("issuer"), request.field("subject"), visit.client
        )
        return self.redirect(visit, self.config.url("/settings?done=unlinked"))

    def show_account(self, visit: Visit) -> WebResponse:
        """POST /accounts/show: offer a hidden account at login again."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        account = visit.request.field("account")
        self.broker.show_account(visit.token or "", account, visit.client)
        return self.redirect(visit, self.config.url("/settings?done=shown"))

    def revoke(self, visit: Visit) -> WebResponse:
        """POST /sessions/revoke: end one of the account's sessions."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        target = visit.request.field("session_id")
        self.broker.revoke_session(visit.token or "", target, visit.client)
        return self.redirect(visit, self.config.url("/settings?done=revoked"))

    def switch(self, visit: Visit) -> WebResponse:
        """POST /switch: act as another of the person's accounts."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        account = visit.request.field("account")
        response = self.result(
            visit, self.broker.switch_account(visit.token or "", account, visit.client)
        )
        if response.template is not None:  # the code page of the switch: still logged in
            response = attrs.evolve(response, context={**response.context, "session": session})
        return response

    # -- authenticator app ---------------------------------------------------------------------

    def totp_page(self, visit: Visit) -> WebResponse:
        """GET /totp: a new secret as a QR code and as text, and the confirmation form."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        enrolment = self.broker.totp_enrolment(session, issuer=self.config.site_name)
        return self._totp_form(session, enrolment.secret_base32, enrolment.uri, None)

    def totp(self, visit: Visit) -> WebResponse:
        """POST /totp: the sealed secret and a code from the app."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        request = visit.request
        secret = request.field("secret")
        uri = request.field("uri")
        self.check_csrf(session, request, _seal_binding(session, secret, uri))
        try:
            self.broker.confirm_totp(
                session, decode_secret(secret), request.field("code"), visit.client
            )
        except (WrongCode, TotpStepReused) as exc:  # nothing stored yet: the form again
            return self._totp_form(session, secret, uri, exc)
        return self.redirect(visit, self.config.url("/settings?done=totp"))

    def _totp_form(
        self, session: Session, secret: str, uri: str, error: BridgeError | None
    ) -> WebResponse:
        # The secret goes to the browser and back, sealed by an HMAC under the broker's
        # key bound to this session: it cannot be swapped or used in another session.
        seal = self.csrf_token(session, _seal_binding(session, secret, uri))
        status = 200 if error is None else self.status_of(error.code)
        return self.page(
            "totp.html",
            status,
            qr=Markup(qr_svg(uri)),  # noqa: S704 - our own SVG of our own URI
            secret=secret,
            secret_groups=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            uri=uri,
            seal=seal,
            error=error,
            session=session,
            csrf_token=self.csrf_token(session),
        )

    # -- recovery codes -------------------------------------------------------------------------

    def recovery_codes(self, visit: Visit) -> WebResponse:
        """POST /recovery-codes: a new set, shown on this answer only (never cached)."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        code = visit.request.field("code") or None
        codes = self.broker.generate_recovery_codes(visit.token or "", visit.client, code=code)
        return self.page("recovery_codes.html", codes=codes)


def _seal_binding(session: Session, secret: str, uri: str) -> str:
    return f"totp-enrolment\x00{session.session_id}\x00{secret}\x00{uri}"
