"""Client authentication at the mock IdP's token endpoint, method by method.

The method a request presents (:func:`presented`) must be the client's registered one.
``client_secret_basic`` and ``client_secret_post`` compare the secret; ``private_key_jwt``
checks a JWT signed by a key of the client's JWKS, addressed to the token endpoint, with a
one-time ``jti`` (:func:`check_client_assertion`); ``esia_cms`` checks the detached-CMS
``client_secret`` of ESIA's v1 scheme (:func:`check_esia_cms_secret`). The GOST scheme of
``esia_gost`` clients is :mod:`mock_idp.esia_v2`'s.

A failed authentication is ``esia.invalid_client`` (``ESIA-008010``), except the v1 secret:
a wrong time is ``ESIA-007015``, a wrong signature ``ESIA-007053``, as ESIA numbers them.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import unquote

from cryptography import x509
from jose import jwt
from jose.exceptions import JOSEError

from mock_idp.clients import Client
from mock_idp.errors import EsiaError
from sso_bridge.errors import BridgeError
from sso_bridge.esia import cms as esia_cms
from sso_bridge.esia.errors import EsiaTimestampError
from sso_bridge.keysize import rsa_key_acceptable
from sso_bridge.oidc.keys import parse_jwks

__all__ = [
    "MAX_CLIENT_ASSERTION_LENGTH",
    "SeenAssertions",
    "check_client_assertion",
    "check_esia_cms_secret",
    "client_error",
    "presented",
]

MAX_CLIENT_ASSERTION_LENGTH: Final = 8 * 1024
"""Longest ``client_assertion`` (private_key_jwt) the token endpoint looks at."""
ESIA_CMS_SKEW: Final = timedelta(minutes=5)
"""How far the v1 secret's timestamp may be from the IdP's clock."""


class SeenAssertions:
    """The ``jti`` of every client assertion accepted so far; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def first_use(self, jti: str) -> bool:
        """Record ``jti``; False when it was recorded before."""
        with self._lock:
            if jti in self._seen:
                return False
            self._seen.add(jti)
            return True


def client_error(message: str) -> EsiaError:
    """A failed client authentication (``esia.invalid_client``)."""
    return EsiaError(message, code="esia.invalid_client")


def presented(
    form: Mapping[str, str], authorization: str | None, clients: Mapping[str, Client]
) -> tuple[str | None, str | None, str]:
    """The ``client_id``, secret and method a token request presents."""
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
            basic_id, _, basic_secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise client_error("malformed Basic credentials") from None
        return unquote(basic_id), unquote(basic_secret), "client_secret_basic"
    if form.get("client_assertion_type"):
        client_id = client_id or _assertion_issuer(form.get("client_assertion", ""))
        return client_id, secret, "private_key_jwt"
    registered = clients.get(client_id or "")
    if registered is not None and registered.auth_method == "esia_gost":
        return client_id, secret, "esia_gost"
    if form.get("timestamp") and secret:
        return client_id, secret, "esia_cms"
    return client_id, secret, "client_secret_post" if secret else "none"


def check_client_assertion(
    client: Client, assertion: str, audience: str, seen: SeenAssertions
) -> None:
    """A ``private_key_jwt`` assertion: the client's key, ``aud`` the endpoint, new ``jti``."""
    if len(assertion) > MAX_CLIENT_ASSERTION_LENGTH:
        raise client_error("the client assertion is too long")
    try:
        header = jwt.get_unverified_header(assertion)
        alg = header.get("alg")
        if alg not in ("RS256", "ES256"):
            raise client_error("client assertion algorithm not allowed")
        # the registered keys, bounded and size-checked as any JWKS (RSA >= 2048 bits)
        usable = [
            k for k in parse_jwks(client.jwks or {"keys": []}, (alg,)) if k.kid == header.get("kid")
        ]
        if len(usable) != 1:
            raise client_error("client assertion key not found")
        if alg not in usable[0].keys:
            raise client_error("the client's key is refused (RSA under 2048 bits?)")
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
        raise client_error(f"bad client assertion: {exc}") from None
    if not seen.first_use(claims["jti"]):
        raise client_error("client assertion replayed")


def check_esia_cms_secret(client: Client, form: Mapping[str, str], now: datetime) -> None:
    """ESIA's v1 ``client_secret``: a detached CMS signature by the registered certificate."""
    if not client.certificate_pem:
        raise client_error("the client has no registered certificate")
    certificate = x509.load_pem_x509_certificate(client.certificate_pem.encode())
    if not rsa_key_acceptable(certificate):
        raise client_error("the client's certificate has an RSA key under 2048 bits")
    try:
        esia_cms.check_timestamp(form["timestamp"], now, ESIA_CMS_SKEW)
        message = esia_cms.client_secret_message(
            form.get("scope", ""), form["timestamp"], client.client_id, form.get("state", "")
        )
        esia_cms.verify_client_secret(form["client_secret"], message, certificate)
    except EsiaTimestampError as exc:  # passed on as it is
        raise EsiaError(f"client_secret refused ({exc.code})", code=exc.code) from None
    except BridgeError as exc:
        refusal = f"client_secret refused ({exc.code})"
        raise EsiaError(refusal, code="esia.secret_bad_signature") from None


def _assertion_issuer(assertion: str) -> str | None:
    try:
        issuer = jwt.get_unverified_claims(assertion).get("iss")
    except JOSEError:
        return None
    return issuer if isinstance(issuer, str) else None
