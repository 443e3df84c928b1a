"""The mock IdP's OAuth 2.0 / OIDC logic, without HTTP: clients, the login transaction
(password, then a second factor), authorization codes, tokens, userinfo and ESIA's
person API.

Refusals are :class:`EsiaError`, a :class:`~sso_bridge.errors.BridgeError` with a stable
``esia.*`` code (:data:`ESIA_ERRORS`, defined in :mod:`mock_idp.errors`); the web layer
turns those that may go back to the client into a redirect with ``error``,
``error_description`` (``ESIA-0NNNNN: ...``) and ``state``, and the others into an error
page or a JSON error. The numbers are ESIA's own, with ESIA's meaning (see
``docs/mock-idp.md``).

As ESIA does: a scope is required but ``openid`` is not (an ID token is issued only when
the grant has ``openid``); PKCE is supported, and demanded only of clients whose
``require_pkce`` is on (:mod:`mock_idp.clients`); access tokens are signed JWTs
(:func:`mock_idp.tokens.access_token_claims`), still looked up in the provider's own
table, so that revoking and expiring them works; a signed v2/ac request of an
``esia_gost`` client is good once (:class:`mock_idp.esia_v2.ReplayGuard`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from mock_idp import client_auth, esia_v2
from mock_idp.clients import AUTH_METHODS, ESIA_AUTH_METHODS, Client, client_from_dict
from mock_idp.end_session import IssuedIdTokens
from mock_idp.errors import (
    ESIA_ERRORS,
    EsiaError,
    EsiaErrorKind,
    RedirectableError,
    SamlLoginFailed,
    WrongCode,
)
from mock_idp.grants import (
    CODE_LIFETIME,
    MAX_CODE_ATTEMPTS,
    SCOPES,
    SMS_RESEND_COOLDOWN,
    TRANSACTION_LIFETIME,
    AccessToken,
    Grant,
    Sms,
    Transaction,
)
from mock_idp.keys import KeyRing
from mock_idp.resources import Resources
from mock_idp.second_factor import UsedTotpSteps, code_matches, new_sms_code
from mock_idp.sso import IdpSession
from mock_idp.token_endpoint import TokenEndpoint
from mock_idp.tokens import TokenFault
from mock_idp.users import Directory, Person, SecondFactor
from sso_bridge.clock import Clock, SystemClock

__all__ = [
    "AUTH_METHODS",
    "ESIA_ERRORS",
    "SCOPES",
    "AccessToken",
    "Client",
    "EsiaError",
    "EsiaErrorKind",
    "Grant",
    "Provider",
    "RedirectableError",
    "Sms",
    "Transaction",
    "WrongCode",
    "client_from_dict",
]


class Provider(TokenEndpoint, Resources):
    """State and rules of the OIDC side; thread-safe.

    The login transaction (authorization request, password, second factor, code) is here;
    the token endpoint is :class:`~mock_idp.token_endpoint.TokenEndpoint`, the userinfo
    :class:`~mock_idp.resources.Resources`.
    """

    def __init__(
        self,
        issuer: str,
        people: Directory,
        keys: KeyRing,
        clients: Mapping[str, Client] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.issuer = issuer
        self.people = people
        self.keys = keys
        self.clients: dict[str, Client] = dict(clients or {})
        self.clock = clock or SystemClock()
        self.outbox: list[Sms] = []
        self.faults: list[set[TokenFault]] = []
        self._lock = threading.RLock()
        self._transactions: dict[str, Transaction] = {}
        self._grants: dict[str, Grant] = {}
        self._used_codes: dict[str, list[str]] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, Grant] = {}
        self._totp_steps = UsedTotpSteps()
        self._assertions = client_auth.SeenAssertions()
        self._mismatched_userinfo: set[str] = set()
        self._signed_requests = esia_v2.ReplayGuard()
        self.issued_id_tokens = IssuedIdTokens()

    # -- authorization ----------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str], *, browser: str = "") -> Transaction:
        """Check an authorization request and open its login transaction for ``browser``
        (the id the login page's cookie carries; see :meth:`transaction`).

        Raises :class:`RedirectableError` for errors that go back to the client, and
        :class:`EsiaError` (shown as a page) when the client or redirect URI is unknown.
        """
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise EsiaError("unknown client_id", code="esia.unknown_client")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            # never redirect to an address the client did not register, character for character
            raise EsiaError("redirect_uri is not registered", code="esia.bad_redirect_uri")
        state = params.get("state", "")

        def refuse(message: str, code: str) -> RedirectableError:
            return RedirectableError(message, code=code, redirect_uri=redirect_uri, state=state)

        if params.get("response_type") != "code":
            raise refuse("response_type must be code", "esia.unsupported_response_type")
        if not state:
            raise refuse("state is required", "esia.invalid_request")
        if client.auth_method == "esia_gost":
            self._check_signed_request(client, params, redirect_uri)
        scopes, challenge, offline = _request_terms(client, params, refuse)
        txn = Transaction(
            id=secrets.token_urlsafe(24),
            client=client,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            created_at=self.clock.now(),
            browser=browser,
            offline=offline,
        )
        with self._lock:
            self._transactions[txn.id] = txn
            if len(self._transactions) % 256 == 0:
                self._prune(txn.created_at)
        return txn

    def _check_signed_request(
        self, client: Client, params: Mapping[str, str], redirect_uri: str
    ) -> None:
        """The GOST client authentication of a v2/ac request, good once."""
        now = self.clock.now()
        state = params.get("state", "")
        try:
            esia_v2.check_request(
                client.gost_certificate(), params, client_id=client.client_id, now=now
            )
        except EsiaError as exc:
            raise RedirectableError(
                exc.message, code=exc.code, redirect_uri=redirect_uri, state=state
            ) from None
        if not self._signed_requests.first_time(client.client_id, state, params["timestamp"], now):
            raise RedirectableError(
                "this signed request was already used",
                code="esia.request_replayed",
                redirect_uri=redirect_uri,
                state=state,
            )

    def _prune(self, now: datetime) -> None:
        """Forget what has expired, so that a long-running server does not grow."""
        self._transactions = {
            k: t
            for k, t in self._transactions.items()
            if now - t.created_at <= TRANSACTION_LIFETIME
        }
        self._grants = {k: g for k, g in self._grants.items() if g.expires_at >= now}
        self._access = {k: a for k, a in self._access.items() if a.expires_at >= now}
        live = set(self._access) | set(self._refresh)
        self._used_codes = {
            k: tokens for k, tokens in self._used_codes.items() if live.intersection(tokens)
        }

    def transaction(self, txn_id: str, *, browser: str) -> Transaction:
        """The live login transaction ``txn_id`` of ``browser``.

        ``esia.login_wrong_browser`` when it was opened in another browser (or ``browser``
        is empty): knowing a transaction's id is not enough to log in through it.
        """
        with self._lock:
            txn = self._transactions.get(txn_id)
        if txn is not None and not (
            txn.browser and browser and hmac.compare_digest(txn.browser, browser)
        ):
            raise EsiaError(
                "this login was started in another browser; start it again here",
                code="esia.login_wrong_browser",
            )
        if txn is None or txn.dead:
            raise EsiaError("the login attempt is over", code="esia.login_over")
        if self.clock.now() - txn.created_at > TRANSACTION_LIFETIME:
            raise self._end(txn, "the login attempt timed out", "esia.login_timed_out")
        return txn

    def begin_saml(
        self, request: Any, acs_url: str, relay_state: str, *, browser: str = ""
    ) -> Transaction:
        """Open a login transaction of ``browser`` for a parsed SAML AuthnRequest."""
        txn = Transaction(
            id=secrets.token_urlsafe(24),
            client=None,
            redirect_uri=acs_url,
            scopes=(),
            state=relay_state,
            nonce=None,
            code_challenge=None,
            created_at=self.clock.now(),
            saml_request=request,
            browser=browser,
        )
        with self._lock:
            self._transactions[txn.id] = txn
        return txn

    def _end(self, txn: Transaction, message: str, code: str) -> EsiaError:
        """End ``txn``: the refusal goes back to its OIDC client or SAML service provider."""
        txn.dead = True
        if txn.saml_request is not None:
            return SamlLoginFailed(message, code=code, saml_request=txn.saml_request)
        if txn.client is None:
            return EsiaError(message, code=code)
        return RedirectableError(message, code=code, redirect_uri=txn.redirect_uri, state=txn.state)

    def cancel(self, txn: Transaction) -> EsiaError:
        """The person gave up on the login: the refusal that ends ``txn``."""
        return self._end(txn, "the person cancelled the login", "esia.login_cancelled")

    def check_password(self, txn: Transaction, login: str, password: str) -> Person:
        """First step. A wrong login or password ends the attempt, as ESIA does."""
        person = self.people.by_login(login)
        if person is None or not hmac.compare_digest(person.password.encode(), password.encode()):
            raise self._end(txn, "wrong login or password", "esia.wrong_credentials")
        if txn.client is not None and txn.client.require_trusted and not person.trusted:
            raise self._end(txn, "the client requires a confirmed account", "esia.not_confirmed")
        txn.person = person
        if person.second_factor is SecondFactor.SMS:
            self.send_sms(txn, force=True)
        return person

    def send_sms(self, txn: Transaction, *, force: bool = False) -> bool:
        """Send (or resend) the SMS code; False while the resend cooldown runs."""
        person = self._person(txn)
        now = self.clock.now()
        if not force and txn.sms_sent_at and now - txn.sms_sent_at < SMS_RESEND_COOLDOWN:
            return False
        code, txn.sms_code_hash = new_sms_code()
        txn.sms_sent_at = now
        phone = person.mobile or person.login
        with self._lock:
            self.outbox.append(Sms(phone, f"Код подтверждения: {code}", code, now))
        return True

    def _person(self, txn: Transaction) -> Person:
        if txn.person is None:
            raise EsiaError("log in with a password first", code="esia.invalid_request")
        return txn.person

    def check_second_factor(self, txn: Transaction, code: str) -> Person:
        """Second step: the SMS or TOTP code. At most five wrong codes per attempt."""
        person = self._person(txn)
        if not code_matches(txn, person, code, self.clock.now(), self._totp_steps):
            txn.attempts += 1
            if txn.attempts >= MAX_CODE_ATTEMPTS:
                raise self._end(txn, "too many wrong codes", "esia.second_factor_failed")
            raise WrongCode(MAX_CODE_ATTEMPTS - txn.attempts)
        txn.dead = True
        return person

    def grant_after_login(
        self, txn: Transaction, person: Person, session: IdpSession | None = None
    ) -> Grant:
        """The authorization code of a finished OIDC login (or of one answered at once by
        the IdP ``session``, whose sid, auth_time and acr the tokens report)."""
        if txn.client is None:
            raise EsiaError("not an OIDC login", code="esia.invalid_request")
        return self.grant_for(
            txn.client.client_id,
            person.oid,
            redirect_uri=txn.redirect_uri,
            scopes=txn.scopes,
            nonce=txn.nonce,
            code_challenge=txn.code_challenge,
            second_factor=person.second_factor.value,
            offline=txn.offline,
            sid=None if session is None else session.sid,
            auth_time=None if session is None else session.auth_time,
            acr=None if session is None else session.acr,
        )

    def grant_for(
        self,
        client_id: str,
        oid: int,
        *,
        redirect_uri: str | None = None,
        scopes: tuple[str, ...] = ("openid",),
        nonce: str | None = None,
        code_challenge: str | None = None,
        second_factor: str = "sms",
        offline: bool = True,
        sid: str | None = None,
        auth_time: datetime | None = None,
        acr: str | None = None,
    ) -> Grant:
        """An authorization code as if ``oid`` had just logged in (tests skip the page);
        ``sid``, ``auth_time`` and ``acr`` are the IdP session's, if there is one."""
        client = self.clients[client_id]
        grant = Grant(
            code=secrets.token_urlsafe(32),
            client_id=client_id,
            redirect_uri=redirect_uri or client.redirect_uris[0],
            oid=oid,
            scopes=scopes,
            nonce=nonce,
            code_challenge=code_challenge,
            expires_at=self.clock.now() + CODE_LIFETIME,
            second_factor=second_factor,
            offline=offline,
            sid=sid,
            auth_time=auth_time,
            acr=acr,
        )
        with self._lock:
            self._grants[grant.code] = grant
        return grant


def _request_terms(
    client: Client,
    params: Mapping[str, str],
    refuse: Callable[[str, str], RedirectableError],
) -> tuple[tuple[str, ...], str | None, bool]:
    """The scopes, the PKCE challenge and whether a refresh token is due, once checked."""
    scopes = tuple(params.get("scope", "").split())
    if not scopes:
        raise refuse("the request names no scope", "esia.scope_missing")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise refuse(f"unknown scope {unknown[0]!r}", "esia.invalid_scope")
    challenge = params.get("code_challenge") or None
    if challenge is not None and params.get("code_challenge_method") != "S256":
        raise refuse("code_challenge_method must be S256", "esia.invalid_request")
    if challenge is None and client.require_pkce:
        raise refuse("this client must send a code_challenge (S256)", "esia.invalid_request")
    offline = True
    if client.auth_method in ESIA_AUTH_METHODS:
        # ESIA: a refresh token only for access_type=offline; online is the default
        access_type = params.get("access_type") or "online"
        if access_type not in ("online", "offline"):
            raise refuse("access_type must be online or offline", "esia.invalid_request")
        offline = access_type == "offline"
    return scopes, challenge, offline
