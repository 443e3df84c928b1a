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

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from mock_idp import client_auth, esia_v2
from mock_idp.clients import AUTH_METHODS, ESIA_AUTH_METHODS, Client, client_from_dict
from mock_idp.errors import ESIA_ERRORS, EsiaError, EsiaErrorKind
from mock_idp.keys import GostSigningKey, KeyRing, SigningKey
from mock_idp.tokens import (
    TokenFault,
    access_token_claims,
    id_token_claims,
    sign_access_token,
    sign_token,
)
from mock_idp.users import Directory, Person, SecondFactor
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.matching.normalize import parse_date
from sso_bridge.mfa.otp import decode_secret, totp_match
from sso_bridge.oidc.flow import pkce_challenge

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

MAX_CODE_ATTEMPTS = 5
CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
ID_TOKEN_LIFETIME = timedelta(minutes=10)
TRANSACTION_LIFETIME = timedelta(minutes=15)
SMS_CODE_LIFETIME = timedelta(minutes=5)
SMS_RESEND_COOLDOWN = timedelta(seconds=30)

SCOPES = frozenset(
    {
        "openid",
        "fullname",
        "birthdate",
        "gender",
        "snils",
        "id_doc",
        "contacts",
        "email",
        "mobile",
        "kid_fullname",
        "kid_birthdate",
        "kid_gender",
        "kid_snils",
        "usr_org",
    }
)


@attrs.define
class Transaction:
    """One authorization request on its way through the login page."""

    id: str
    client: Client | None  # None for a SAML login
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str | None
    code_challenge: str | None
    created_at: datetime
    saml_request: Any = None  # the parsed AuthnRequest of a SAML login
    person: Person | None = None
    sms_code_hash: bytes | None = None
    sms_sent_at: datetime | None = None
    attempts: int = 0
    dead: bool = False
    browser: str = attrs.field(default="", repr=False)  # the id in the login page's cookie
    offline: bool = True  # a refresh token with the tokens (ESIA: access_type=offline)


@attrs.frozen
class Grant:
    code: str
    client_id: str
    redirect_uri: str
    oid: int
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    expires_at: datetime
    second_factor: str
    offline: bool = True


@attrs.frozen
class AccessToken:
    token: str
    client_id: str
    oid: int
    scopes: tuple[str, ...]
    expires_at: datetime


@attrs.frozen
class Sms:
    phone: str
    text: str
    code: str
    sent_at: datetime


class Provider:
    """State and rules of the OIDC side; thread-safe."""

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
        # one set of faults per coming token response, in order
        self.faults: list[set[TokenFault]] = []
        self._lock = threading.RLock()
        self._transactions: dict[str, Transaction] = {}
        self._grants: dict[str, Grant] = {}
        self._used_codes: dict[str, list[str]] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, Grant] = {}
        self._totp_steps: dict[int, int] = {}
        self._assertions = client_auth.SeenAssertions()
        self._mismatched_userinfo: set[str] = set()
        self._signed_requests = esia_v2.ReplayGuard()

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
        txn.dead = True
        if txn.client is None:  # SAML: the page says it; nothing goes back unasked
            return EsiaError(message, code=code)
        return RedirectableError(message, code=code, redirect_uri=txn.redirect_uri, state=txn.state)

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
        code = f"{secrets.randbelow(10**6):06d}"
        txn.sms_code_hash = hashlib.sha256(code.encode()).digest()
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
        now = self.clock.now()
        ok = False
        if person.second_factor is SecondFactor.SMS:
            fresh = txn.sms_sent_at is not None and now - txn.sms_sent_at <= SMS_CODE_LIFETIME
            given = hashlib.sha256(code.strip().encode()).digest()
            ok = (
                fresh
                and txn.sms_code_hash is not None
                and hmac.compare_digest(given, txn.sms_code_hash)
            )
        elif person.totp_secret:
            step = totp_match(decode_secret(person.totp_secret), code.strip(), int(now.timestamp()))
            with self._lock:
                # a step once used stays used: no replay of an observed code
                ok = step is not None and step > self._totp_steps.get(person.oid, -1)
                if ok and step is not None:
                    self._totp_steps[person.oid] = step
        if not ok:
            txn.attempts += 1
            if txn.attempts >= MAX_CODE_ATTEMPTS:
                raise self._end(txn, "too many wrong codes", "esia.second_factor_failed")
            raise WrongCode(MAX_CODE_ATTEMPTS - txn.attempts)
        txn.dead = True
        return person

    def grant_after_login(self, txn: Transaction, person: Person) -> Grant:
        """The authorization code of a finished OIDC login."""
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
    ) -> Grant:
        """An authorization code as if ``oid`` had just logged in (tests skip the page)."""
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
        )
        with self._lock:
            self._grants[grant.code] = grant
        return grant

    # -- token endpoint ---------------------------------------------------------------------

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None, token_endpoint: str
    ) -> Client:
        """Client authentication by the client's registered method."""
        client_id, secret, method = client_auth.presented(form, authorization, self.clients)
        client = self.clients.get(client_id or "")
        if client is None or client.auth_method != method:
            raise client_auth.client_error("unknown client or wrong authentication method")
        if method in ("client_secret_basic", "client_secret_post"):
            if not (client.secret and secret and hmac.compare_digest(client.secret, secret)):
                raise client_auth.client_error("wrong client secret")
        elif method == "private_key_jwt":
            client_auth.check_client_assertion(
                client, form.get("client_assertion", ""), token_endpoint, self._assertions
            )
        elif method == "esia_cms":
            client_auth.check_esia_cms_secret(client, form, self.clock.now())
        elif method == "esia_gost":
            code = form.get("code") if form.get("grant_type") == "authorization_code" else None
            esia_v2.check_request(
                client.gost_certificate(),
                form,
                client_id=client.client_id,
                now=self.clock.now(),
                code=code,
            )
        return client

    def exchange_code(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        """``grant_type=authorization_code``."""
        code = form.get("code", "")
        now = self.clock.now()
        with self._lock:
            grant = self._grants.pop(code, None)
            if grant is None:
                if code in self._used_codes:
                    # a code used twice: revoke what the first use gave (RFC 6749 §4.1.2)
                    for token in self._used_codes.pop(code):
                        self._access.pop(token, None)
                        self._refresh.pop(token, None)
                raise EsiaError("unknown or used code", code="esia.invalid_grant")
        if grant.client_id != client.client_id:
            raise EsiaError("the code was issued to another client", code="esia.invalid_grant")
        if grant.redirect_uri != form.get("redirect_uri"):
            raise EsiaError("redirect_uri differs", code="esia.invalid_grant")
        if now > grant.expires_at:
            raise EsiaError("the code expired", code="esia.code_expired")
        _check_pkce(grant.code_challenge, form.get("code_verifier"))
        response = self._issue(client, grant, now, form)
        issued = [response["access_token"], response.get("refresh_token")]
        with self._lock:
            self._used_codes[code] = [token for token in issued if token]
        return response

    def refresh(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        """``grant_type=refresh_token``; the refresh token is rotated."""
        with self._lock:
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
        if grant is None or grant.client_id != client.client_id:
            raise EsiaError("unknown refresh token", code="esia.invalid_grant")
        return self._issue(client, grant, self.clock.now(), form)

    def _issue(
        self, client: Client, grant: Grant, now: datetime, form: Mapping[str, str]
    ) -> dict[str, Any]:
        person = self.people.get(grant.oid)
        if person is None:
            raise EsiaError("the person is gone", code="esia.invalid_grant")
        key = self._signing_key(client)
        claims = access_token_claims(
            person.oid,
            grant.scopes,
            issuer=self.issuer,
            client_id=client.client_id,
            now=now,
            lifetime=ACCESS_TOKEN_LIFETIME,
        )
        access = AccessToken(
            sign_access_token(claims, key, kid=client.token_kid),
            client.client_id,
            person.oid,
            grant.scopes,
            now + ACCESS_TOKEN_LIFETIME,
        )
        refresh = secrets.token_urlsafe(32) if grant.offline else None
        faults = self.take_faults()
        with self._lock:
            self._access[access.token] = access
            if refresh is not None:
                self._refresh[refresh] = grant
            if TokenFault.USERINFO_SUB_MISMATCH in faults:
                self._mismatched_userinfo.add(access.token)
        response = {
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        }
        if refresh is not None:
            response["refresh_token"] = refresh
        if "openid" in grant.scopes:  # as ESIA: no openid, no ID token
            response["id_token"] = self._id_token(client, grant, person, access, now, faults)
        response["scope"] = " ".join(grant.scopes)
        if client.auth_method == "esia_gost":  # ESIA v3/te echoes the request's own state
            response["state"] = form.get("state", "")
        return response

    def _signing_key(self, client: Client) -> SigningKey | GostSigningKey:
        """The active key of the client's algorithm: it signs both of its tokens."""
        alg = client.id_token_alg
        return self.keys.active_gost() if alg == gost.GOST_JWT_ALG else self.keys.active(alg)

    def _id_token(
        self,
        client: Client,
        grant: Grant,
        person: Person,
        access: AccessToken,
        now: datetime,
        faults: set[TokenFault],
    ) -> str:
        claims = id_token_claims(
            person,
            issuer=self.issuer,
            client_id=client.client_id,
            nonce=grant.nonce,
            access_token=access.token,
            now=now,
            lifetime=ID_TOKEN_LIFETIME,
            second_factor=grant.second_factor,
            alg=client.id_token_alg,
        )
        return sign_token(claims, self._signing_key(client), faults, kid=client.token_kid)

    def take_faults(self) -> set[TokenFault]:
        """The faults queued for this response (empty when none are)."""
        with self._lock:
            return self.faults.pop(0) if self.faults else set()

    # -- resources --------------------------------------------------------------------------

    def access(self, authorization: str | None) -> AccessToken:
        token = (authorization or "")[7:] if (authorization or "").startswith("Bearer ") else ""
        with self._lock:
            access = self._access.get(token)
        if access is None or self.clock.now() > access.expires_at:
            raise EsiaError("unknown or expired access token", code="esia.invalid_token")
        return access

    def userinfo(self, access: AccessToken) -> dict[str, Any]:
        person = self.people.get(access.oid)
        if person is None:
            raise EsiaError("the person is gone", code="esia.invalid_token")
        info: dict[str, Any] = {"sub": str(person.oid), "trusted": person.trusted}
        if access.token in self._mismatched_userinfo:
            info["sub"] = str(person.oid + 1)
        scopes = set(access.scopes)
        if "fullname" in scopes:
            info.update(
                family_name=person.last_name,
                given_name=person.first_name,
                middle_name=person.middle_name,
            )
        if "birthdate" in scopes:
            info["birthdate"] = parse_date(person.birth_date).isoformat()
        if "gender" in scopes:
            info["gender"] = "female" if person.gender.value == "F" else "male"
        if "snils" in scopes and person.snils:
            info["snils"] = person.snils
        return info


class RedirectableError(EsiaError):
    """An :class:`EsiaError` that goes back to the client's redirect URI (``status`` 302)."""

    def __init__(
        self, message: str, *, code: str | None = None, redirect_uri: str, state: str
    ) -> None:
        super().__init__(message, code=code)
        self.status = 302
        self.redirect_uri = redirect_uri
        self.state = state


class WrongCode(BridgeError):
    """A wrong second-factor code; the person may try again (``mock_idp.wrong_code``)."""

    code = "mock_idp.wrong_code"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"wrong code; {attempts_left} attempts left")
        self.attempts_left = attempts_left


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    """PKCE at the token endpoint, as ESIA checks it (``ESIA-007039``, ``ESIA-007040``)."""
    if challenge is None:
        if verifier:
            raise EsiaError(
                "code_verifier was sent, but the authorization request had no code_challenge",
                code="esia.pkce_verifier_unexpected",
            )
        return
    if not verifier or not _pkce_matches(verifier, challenge):
        raise EsiaError(
            "code_verifier does not match the code_challenge", code="esia.pkce_mismatch"
        )


def _pkce_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier`` is the S256 PKCE verifier of ``challenge``."""
    try:
        expected = pkce_challenge(verifier)
    except BridgeError:  # a verifier is ASCII (RFC 7636 §4.1)
        return False
    return hmac.compare_digest(expected, challenge)
