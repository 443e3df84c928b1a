"""OpenID Connect RP-Initiated Logout 1.0 without HTTP: which ID tokens the IdP issued (an
``id_token_hint`` must be one of them, expired or not) and the checks of an end-session
request.

The request's ``id_token_hint`` must be an ID token this IdP issued (recognised by its
SHA-256, so any of the IdP's algorithms, GOST included); ``client_id``, when given with it,
must be the token's audience; ``post_logout_redirect_uri`` must be registered, character for
character, in the client's ``post_logout_redirect_uris`` — the client is the one
``client_id`` or the hint names, and without either no redirect is made. Every refusal is an
:class:`~mock_idp.errors.EsiaError` the web layer shows as a page, never as a redirect.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlencode

import attrs

from mock_idp.clients import Client
from mock_idp.errors import EsiaError

__all__ = ["MAX_ISSUED_ID_TOKENS", "EndSession", "IssuedIdToken", "IssuedIdTokens", "check"]

MAX_ISSUED_ID_TOKENS: Final = 100_000
"""Most ID tokens remembered for ``id_token_hint``; past it the oldest are forgotten."""


@attrs.frozen
class IssuedIdToken:
    """What the IdP put in an ID token it issued."""

    client_id: str
    sub: str
    sid: str | None


class IssuedIdTokens:
    """The ID tokens the IdP issued, by their SHA-256; thread-safe and bounded."""

    def __init__(self, limit: int = MAX_ISSUED_ID_TOKENS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._tokens: OrderedDict[bytes, IssuedIdToken] = OrderedDict()

    def add(self, token: str, client_id: str, oid: int, sid: str | None) -> None:
        with self._lock:
            self._tokens[_digest(token)] = IssuedIdToken(client_id, str(oid), sid)
            while len(self._tokens) > self.limit:
                self._tokens.popitem(last=False)

    def get(self, token: str) -> IssuedIdToken | None:
        """What ``token`` said, if this IdP issued it."""
        with self._lock:
            return self._tokens.get(_digest(token))

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).digest()


@attrs.frozen
class EndSession:
    """An accepted end-session request."""

    client_id: str | None
    redirect_to: str | None  # post_logout_redirect_uri with state, or None: the IdP's page
    hint: IssuedIdToken | None


def check(
    params: Mapping[str, str], clients: Mapping[str, Client], issued: IssuedIdTokens
) -> EndSession:
    """Check an end-session request; raises :class:`EsiaError` (``esia.bad_id_token_hint``,
    ``esia.bad_post_logout_redirect_uri``, ``esia.unknown_client``)."""
    client_id = params.get("client_id") or None
    hint: IssuedIdToken | None = None
    given_hint = params.get("id_token_hint")
    if given_hint:
        hint = issued.get(given_hint)
        if hint is None:
            raise EsiaError(
                "id_token_hint is not an ID token this IdP issued", code="esia.bad_id_token_hint"
            )
        if client_id is not None and client_id != hint.client_id:
            raise EsiaError(
                "client_id is not the audience of id_token_hint", code="esia.bad_id_token_hint"
            )
        client_id = hint.client_id
    client = None if client_id is None else clients.get(client_id)
    if client_id is not None and client is None:
        raise EsiaError("unknown client_id", code="esia.unknown_client")
    target = params.get("post_logout_redirect_uri") or None
    if target is None:
        return EndSession(client_id, None, hint)
    if client is None:
        raise EsiaError(
            "post_logout_redirect_uri needs client_id or id_token_hint",
            code="esia.bad_post_logout_redirect_uri",
        )
    if target not in client.post_logout_redirect_uris:
        raise EsiaError(
            "post_logout_redirect_uri is not registered for this client",
            code="esia.bad_post_logout_redirect_uri",
        )
    state = params.get("state")
    if state:
        target = target + ("&" if "?" in target else "?") + urlencode({"state": state})
    return EndSession(client_id, target, hint)
