"""OpenID Connect Back-Channel Logout 1.0 from the IdP's side: logout tokens, the faults a
test can put in them, and their delivery to the clients' ``backchannel_logout_uri``.

A logout token is a JWT signed with the same key and algorithm as the client's ID tokens,
header ``typ: logout+jwt``, with the claims ``iss``, ``aud`` (the client id), ``iat``,
``exp`` (:data:`LOGOUT_TOKEN_LIFETIME` later), a unique ``jti``, ``events`` naming
:data:`BACKCHANNEL_EVENT`, ``sid`` and ``sub``, and never a ``nonce``. It is POSTed as
``logout_token=<JWT>`` (``application/x-www-form-urlencoded``) with a timeout of
:data:`DELIVERY_TIMEOUT`, from a thread, so that the browser's redirect never waits for it;
every attempt is recorded as a :class:`Delivery`.
"""

from __future__ import annotations

import enum
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import httpx
from jose import jwt

from mock_idp.keys import GostSigningKey, SigningKey
from sso_bridge import base64url
from sso_bridge.esia import gost

__all__ = [
    "BACKCHANNEL_EVENT",
    "DELIVERY_TIMEOUT",
    "LOGOUT_TOKEN_LIFETIME",
    "LOGOUT_TOKEN_TYPE",
    "BackchannelNotifier",
    "Delivery",
    "LogoutTokenFault",
    "Transport",
    "http_transport",
    "logout_token_claims",
    "sign_logout_token",
]

BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE: Final = "logout+jwt"  # noqa: S105 - a media type
LOGOUT_TOKEN_LIFETIME: Final = timedelta(minutes=2)
DELIVERY_TIMEOUT: Final = 5.0
"""Seconds the IdP waits for a client's back-channel logout endpoint to answer."""


class LogoutTokenFault(enum.StrEnum):
    """One defect each, in an otherwise correct logout token."""

    WRONG_AUD = "wrong_aud"
    WRONG_ISS = "wrong_iss"
    WITH_NONCE = "with_nonce"  # a nonce claim, which a logout token must never have
    NO_EVENTS = "no_events"
    WRONG_EVENT = "wrong_event"  # events without the back-channel logout member
    NO_SID_NO_SUB = "no_sid_no_sub"
    REPLAYED_JTI = "replayed_jti"  # the jti of the last token made for the client
    EXPIRED = "expired"
    IAT_FUTURE = "iat_future"
    BAD_SIGNATURE = "bad_signature"
    WRONG_TYP = "wrong_typ"  # typ JWT instead of logout+jwt


def logout_token_claims(
    *,
    issuer: str,
    client_id: str,
    sub: str | None,
    sid: str | None,
    now: datetime,
    lifetime: timedelta = LOGOUT_TOKEN_LIFETIME,
) -> dict[str, Any]:
    """The claims of a correct logout token (``sid``/``sub`` left out when None)."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + int(lifetime.total_seconds()),
        "jti": secrets.token_urlsafe(24),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if sub is not None:
        claims["sub"] = sub
    if sid is not None:
        claims["sid"] = sid
    return claims


def _apply_faults(
    claims: dict[str, Any], faults: Collection[LogoutTokenFault], last_jti: str | None
) -> None:
    if LogoutTokenFault.WRONG_AUD in faults:
        claims["aud"] = "someone-else"
    if LogoutTokenFault.WRONG_ISS in faults:
        claims["iss"] = claims["iss"].rstrip("/") + ".evil/"
    if LogoutTokenFault.WITH_NONCE in faults:
        claims["nonce"] = secrets.token_urlsafe(12)
    if LogoutTokenFault.NO_EVENTS in faults:
        claims.pop("events")
    if LogoutTokenFault.WRONG_EVENT in faults:
        claims["events"] = {"http://schemas.openid.net/event/other": {}}
    if LogoutTokenFault.NO_SID_NO_SUB in faults:
        claims.pop("sid", None)
        claims.pop("sub", None)
    if LogoutTokenFault.REPLAYED_JTI in faults:
        if last_jti is None:
            raise ValueError("replayed_jti: no logout token was made for this client yet")
        claims["jti"] = last_jti
    if LogoutTokenFault.EXPIRED in faults:
        claims["iat"] -= 3600
        claims["exp"] = claims["iat"] + 60
    if LogoutTokenFault.IAT_FUTURE in faults:
        claims["iat"] += 3600
        claims["exp"] = claims["iat"] + 120


def _segment(data: Mapping[str, Any]) -> str:
    return base64url.encode(json.dumps(data, separators=(",", ":")).encode())


def sign_logout_token(
    claims: Mapping[str, Any],
    key: SigningKey | GostSigningKey,
    *,
    kid: bool,
    faults: Collection[LogoutTokenFault] = (),
    last_jti: str | None = None,
) -> str:
    """``claims`` as a logout token signed by ``key`` (``kid`` in the header when asked),
    with ``faults`` applied; ``last_jti`` is what ``replayed_jti`` repeats."""
    body = dict(claims)
    _apply_faults(body, faults, last_jti)
    header: dict[str, Any] = {"alg": key.alg, "typ": LOGOUT_TOKEN_TYPE}
    if LogoutTokenFault.WRONG_TYP in faults:
        header["typ"] = "JWT"
    if kid:
        header["kid"] = key.kid
    if isinstance(key, GostSigningKey):
        signing_input = f"{_segment(header)}.{_segment(body)}"
        signature = gost.sign(key.private_key, signing_input.encode("ascii"))
        token = f"{signing_input}.{base64url.encode(signature)}"
    else:
        extra = {k: v for k, v in header.items() if k != "alg"}
        token = jwt.encode(body, key.signer, algorithm=key.alg, headers=extra)
    if LogoutTokenFault.BAD_SIGNATURE in faults:
        head, payload, signature_part = token.split(".")
        raw = bytearray(base64url.decode(signature_part))
        raw[len(raw) // 2] ^= 0x01
        token = f"{head}.{payload}.{base64url.encode(bytes(raw))}"
    return token


@attrs.frozen
class Delivery:
    """One POST of a logout token: to whom, about which session, and how it went."""

    client_id: str
    uri: str
    sid: str | None
    sub: str | None
    logout_token: str = attrs.field(repr=False)
    status: int | None  # the HTTP status; None when no answer came
    error: str | None = None  # why no answer came (timeout, refused connection)

    @property
    def ok(self) -> bool:
        """Whether the client accepted it (200 or 204, as the specification asks)."""
        return self.status in (200, 204)


Transport = Callable[[str, Mapping[str, str], float], int]
"""Posts a form to a URI within a timeout (seconds) and gives the answer's status."""


def http_transport(uri: str, form: Mapping[str, str], timeout: float) -> int:
    """The real POST, ``application/x-www-form-urlencoded``, no redirects followed."""
    response = httpx.post(uri, data=dict(form), timeout=timeout, follow_redirects=False)
    return response.status_code


@attrs.frozen
class _Job:
    client_id: str
    uri: str
    sid: str | None
    sub: str | None
    token: str


class BackchannelNotifier:
    """Delivers logout tokens and keeps the record of every delivery; thread-safe.

    ``transport`` does the POST (:func:`http_transport` unless a test gives its own, e.g.
    one that calls an application in process); ``synchronous`` delivers before
    :meth:`send` returns instead of from a thread.
    """

    def __init__(
        self,
        transport: Transport = http_transport,
        *,
        timeout: float = DELIVERY_TIMEOUT,
        synchronous: bool = False,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.synchronous = synchronous
        self._done = threading.Condition()
        self._deliveries: list[Delivery] = []
        self._last_jti: dict[str, str] = {}

    def remember_jti(self, client_id: str, jti: str) -> None:
        with self._done:
            self._last_jti[client_id] = jti

    def last_jti(self, client_id: str) -> str | None:
        """The ``jti`` of the last logout token made for ``client_id``."""
        with self._done:
            return self._last_jti.get(client_id)

    def send(
        self, client_id: str, uri: str, token: str, *, sid: str | None, sub: str | None
    ) -> None:
        """POST ``token`` to ``uri``: now (synchronous) or from a new thread."""
        job = _Job(client_id, uri, sid, sub, token)
        if self.synchronous:
            self._deliver(job)
            return
        threading.Thread(target=self._deliver, args=(job,), daemon=True).start()

    def _deliver(self, job: _Job) -> None:
        status: int | None = None
        error: str | None = None
        try:
            status = self.transport(job.uri, {"logout_token": job.token}, self.timeout)
        except Exception as exc:  # any failure to deliver is recorded, never raised
            error = f"{type(exc).__name__}: {exc}"
        delivery = Delivery(job.client_id, job.uri, job.sid, job.sub, job.token, status, error)
        with self._done:
            self._deliveries.append(delivery)
            self._done.notify_all()

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, in the order they finished (a copy)."""
        with self._done:
            return list(self._deliveries)

    def wait(self, count: int = 1, timeout: float = DELIVERY_TIMEOUT + 1) -> list[Delivery]:
        """The deliveries once at least ``count`` have finished, or after ``timeout``
        seconds whatever has finished by then."""
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self._deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left)
            return list(self._deliveries)

    def clear(self) -> None:
        """Forget the record and the jtis (a test's reset)."""
        with self._done:
            self._deliveries.clear()
            self._last_jti.clear()
