"""What the mock IdP's OIDC side keeps: login transactions, authorization codes (grants),
access tokens and sent SMS, with their lifetimes, and the state its parts share."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import attrs

from mock_idp import client_auth, esia_v2
from mock_idp.clients import Client
from mock_idp.end_session import IssuedIdTokens
from mock_idp.keys import KeyRing
from mock_idp.tokens import TokenFault
from mock_idp.users import Directory, Person
from sso_bridge.clock import Clock

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "CODE_LIFETIME",
    "ID_TOKEN_LIFETIME",
    "MAX_CODE_ATTEMPTS",
    "SCOPES",
    "SMS_CODE_LIFETIME",
    "SMS_RESEND_COOLDOWN",
    "TRANSACTION_LIFETIME",
    "AccessToken",
    "Grant",
    "ProviderState",
    "Sms",
    "Transaction",
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
    sid: str | None = None  # the IdP session the login came out of
    auth_time: datetime | None = None  # when that session's person authenticated
    acr: str | None = None


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


class ProviderState:
    """The state the parts of :class:`mock_idp.provider.Provider` share; the provider's
    ``__init__`` sets it all. ``people`` and ``clients`` may be replaced whole (a reset)."""

    issuer: str
    people: Directory
    keys: KeyRing
    clients: dict[str, Client]
    clock: Clock
    outbox: list[Sms]
    faults: list[set[TokenFault]]  # one set of faults per coming token response, in order
    _lock: threading.RLock
    _transactions: dict[str, Transaction]
    _grants: dict[str, Grant]
    _used_codes: dict[str, list[str]]  # code -> the tokens its first use gave
    _access: dict[str, AccessToken]
    _refresh: dict[str, Grant]
    _assertions: client_auth.SeenAssertions
    _mismatched_userinfo: set[str]
    _signed_requests: esia_v2.ReplayGuard
    issued_id_tokens: IssuedIdTokens  # what id_token_hint is checked against
