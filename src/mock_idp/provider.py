"""The mock IdP's OAuth 2.0 / OIDC logic, without HTTP: clients, the login transaction
(password, then a second factor), authorization codes, tokens, userinfo and ESIA's
person API.

Refusals are :class:`EsiaError`, a :class:`~sso_bridge.errors.BridgeError` with a stable
``esia.*`` code (:data:`ESIA_ERRORS`, defined in :mod:`mock_idp.errors`); the web layer
turns those that may go back to the client into a redirect with ``error``,
``error_description`` (``ESIA-0070NN: ...``) and ``state``, and the others into an error
page or a JSON error. The ``ESIA-0070NN`` numbers are this mock's own table (see
``docs/mock-idp.md``), in ESIA's style, except those of the ESIA v2/v3 GOST client
authentication (``esia_gost`` clients, :mod:`mock_idp.esia_v2`), which are ESIA's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import attrs
from cryptography import x509
from jose import jwt
from jose.exceptions import JOSEError

from mock_idp import esia_v2
from mock_idp.errors import ESIA_ERRORS, EsiaError, EsiaErrorKind
from mock_idp.keys import KeyRing
from mock_idp.tokens import TokenFault, id_token_claims, sign_token
from mock_idp.users import Directory, Person, SecondFactor
from sso_bridge import esia_cms
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.keysize import rsa_key_acceptable
from sso_bridge.matching.normalize import parse_date
from sso_bridge.mfa.otp import decode_secret, totp_match
from sso_bridge.oidc.flow import pkce_challenge
from sso_bridge.oidc.keys import parse_jwks

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
MAX_CLIENT_ASSERTION_LENGTH = 8 * 1024
"""Longest ``client_assertion`` (private_key_jwt) the token endpoint looks at."""

AUTH_METHODS = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "esia_cms",
    "esia_gost",
    "none",
)
ID_TOKEN_ALGS = ("RS256", "ES256", gost.GOST_JWT_ALG)
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


@attrs.frozen
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    auth_method: str = "client_secret_basic"
    secret: str | None = attrs.field(default=None, repr=False)
    certificate_pem: str | None = None  # esia_cms (RSA/EC) or esia_gost (GOST 2012-256)
    jwks: Mapping[str, Any] | None = None  # private_key_jwt
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name
    require_trusted: bool = False
    require_pkce: bool = True

    def __attrs_post_init__(self) -> None:
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {', '.join(AUTH_METHODS)}")
        if self.id_token_alg not in ID_TOKEN_ALGS:
            raise ValueError(f"id_token_alg must be one of {', '.join(ID_TOKEN_ALGS)}")
        if self.auth_method == "esia_gost":
            self.gost_certificate()  # refuse a client whose certificate cannot be used
        if self.auth_method == "esia_cms" and self.certificate_pem:
            certificate = x509.load_pem_x509_certificate(self.certificate_pem.encode())
            if not rsa_key_acceptable(certificate):
                raise ValueError("certificate_pem has an RSA key under 2048 bits")

    def gost_certificate(self) -> gost.GostCertificate:
        """The registered GOST certificate of an ``esia_gost`` client."""
        if not self.certificate_pem:
            raise ValueError("an esia_gost client needs certificate_pem (GOST 2012-256)")
        try:
            return gost.load_certificate(self.certificate_pem.encode())
        except BridgeError as exc:
            raise ValueError(f"certificate_pem: {exc.message}") from None


def client_from_dict(data: Mapping[str, Any]) -> Client:
    return Client(
        client_id=str(data["client_id"]),
        redirect_uris=tuple(data.get("redirect_uris") or ()),
        auth_method=str(data.get("auth_method", "client_secret_basic")),
        secret=data.get("secret"),
        certificate_pem=data.get("certificate_pem"),
        jwks=data.get("jwks"),
        id_token_alg=str(data.get("id_token_alg", "RS256")),
        require_trusted=bool(data.get("require_trusted", False)),
        require_pkce=bool(data.get("require_pkce", True)),
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
        self._assertion_ids: set[str] = set()
        self._mismatched_userinfo: set[str] = set()

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
            try:
                esia_v2.check_request(
                    client.gost_certificate(),
                    params,
                    client_id=client.client_id,
                    now=self.clock.now(),
                )
            except EsiaError as exc:
                raise RedirectableError(
                    exc.message, code=exc.code, redirect_uri=redirect_uri, state=state
                ) from None
        scopes = tuple(params.get("scope", "").split())
        if "openid" not in scopes or not set(scopes) <= SCOPES:
            raise refuse("scope is unknown or lacks openid", "esia.invalid_scope")
        challenge = params.get("code_challenge")
        if challenge is not None and params.get("code_challenge_method") != "S256":
            raise refuse("code_challenge_method must be S256", "esia.invalid_request")
        if challenge is None and client.require_pkce:
            raise refuse("PKCE (S256) is required", "esia.invalid_request")
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
        )
        with self._lock:
            self._transactions[txn.id] = txn
            if len(self._transactions) % 256 == 0:
                self._prune(txn.created_at)
        return txn

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
        )
        with self._lock:
            self._grants[grant.code] = grant
        return grant

    # -- token endpoint ---------------------------------------------------------------------

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None, token_endpoint: str
    ) -> Client:
        """Client authentication by the client's registered method."""
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
                basic_id, _, basic_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise self._client_error("malformed Basic credentials") from None
            client_id, secret = unquote(basic_id), unquote(basic_secret)
            method = "client_secret_basic"
        elif form.get("client_assertion_type"):
            method = "private_key_jwt"
            client_id = client_id or _assertion_issuer(form.get("client_assertion", ""))
        elif self._registered_method(client_id) == "esia_gost":
            method = "esia_gost"
        elif form.get("timestamp") and secret:
            method = "esia_cms"
        else:
            method = "client_secret_post" if secret else "none"
        client = self.clients.get(client_id or "")
        if client is None or client.auth_method != method:
            raise self._client_error("unknown client or wrong authentication method")
        if method in ("client_secret_basic", "client_secret_post"):
            if not (client.secret and secret and hmac.compare_digest(client.secret, secret)):
                raise self._client_error("wrong client secret")
        elif method == "private_key_jwt":
            self._check_client_assertion(client, form.get("client_assertion", ""), token_endpoint)
        elif method == "esia_cms":
            self._check_esia_secret(client, form)
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

    def _registered_method(self, client_id: str | None) -> str | None:
        client = self.clients.get(client_id or "")
        return None if client is None else client.auth_method

    def _client_error(self, message: str) -> EsiaError:
        return EsiaError(message, code="esia.invalid_client")

    def _check_client_assertion(self, client: Client, assertion: str, audience: str) -> None:
        if len(assertion) > MAX_CLIENT_ASSERTION_LENGTH:
            raise self._client_error("the client assertion is too long")
        try:
            header = jwt.get_unverified_header(assertion)
            alg = header.get("alg")
            if alg not in ("RS256", "ES256"):
                raise self._client_error("client assertion algorithm not allowed")
            # the registered keys, bounded and size-checked as any JWKS (RSA >= 2048 bits)
            usable = [
                k
                for k in parse_jwks(client.jwks or {"keys": []}, (alg,))
                if k.kid == header.get("kid")
            ]
            if len(usable) != 1:
                raise self._client_error("client assertion key not found")
            if alg not in usable[0].keys:
                raise self._client_error("the client's key is refused (RSA under 2048 bits?)")
            claims = jwt.decode(
                assertion,
                usable[0].keys[alg],
                algorithms=[alg],
                audience=audience,
                issuer=client.client_id,
                subject=client.client_id,
                options={"require_exp": True, "require_jti": True},
            )
        except (JOSEError, BridgeError) as exc:
            if isinstance(exc, EsiaError):
                raise
            raise self._client_error(f"bad client assertion: {exc}") from None
        with self._lock:
            if claims["jti"] in self._assertion_ids:
                raise self._client_error("client assertion replayed")
            self._assertion_ids.add(claims["jti"])

    def _check_esia_secret(self, client: Client, form: Mapping[str, str]) -> None:
        if not client.certificate_pem:
            raise self._client_error("the client has no registered certificate")
        certificate = x509.load_pem_x509_certificate(client.certificate_pem.encode())
        if not rsa_key_acceptable(certificate):
            raise self._client_error("the client's certificate has an RSA key under 2048 bits")
        try:
            esia_cms.check_timestamp(form["timestamp"], self.clock.now(), timedelta(minutes=5))
            message = esia_cms.client_secret_message(
                form.get("scope", ""), form["timestamp"], client.client_id, form.get("state", "")
            )
            esia_cms.verify_client_secret(form["client_secret"], message, certificate)
        except BridgeError as exc:
            raise self._client_error(f"client_secret refused ({exc.code})") from None

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
        if grant.code_challenge is not None and not _pkce_matches(
            form.get("code_verifier", ""), grant.code_challenge
        ):
            raise EsiaError("PKCE verifier does not match", code="esia.invalid_grant")
        response = self._issue(client, grant, now, form)
        with self._lock:
            self._used_codes[code] = [response["access_token"], response["refresh_token"]]
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
        access = AccessToken(
            secrets.token_urlsafe(32),
            client.client_id,
            person.oid,
            grant.scopes,
            now + ACCESS_TOKEN_LIFETIME,
        )
        refresh = secrets.token_urlsafe(32)
        faults = self.take_faults()
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
        alg = client.id_token_alg
        key = self.keys.active_gost() if alg == gost.GOST_JWT_ALG else self.keys.active(alg)
        id_token = sign_token(claims, key, faults)
        with self._lock:
            self._access[access.token] = access
            self._refresh[refresh] = grant
            if TokenFault.USERINFO_SUB_MISMATCH in faults:
                self._mismatched_userinfo.add(access.token)
        response = {
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "refresh_token": refresh,
            "id_token": id_token,
            "scope": " ".join(grant.scopes),
        }
        if client.auth_method == "esia_gost":  # ESIA v3/te echoes the request's own state
            response["state"] = form.get("state", "")
        return response

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


def _pkce_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier`` is the S256 PKCE verifier of ``challenge``."""
    try:
        expected = pkce_challenge(verifier)
    except BridgeError:  # a verifier is ASCII (RFC 7636 §4.1)
        return False
    return hmac.compare_digest(expected, challenge)


def _assertion_issuer(assertion: str) -> str | None:
    try:
        issuer = jwt.get_unverified_claims(assertion).get("iss")
    except JOSEError:
        return None
    return issuer if isinstance(issuer, str) else None
