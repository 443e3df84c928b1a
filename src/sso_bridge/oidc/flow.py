"""The front channel: the authorization request and the callback, without I/O.

A login starts with :func:`authorization_request`, which returns the URL to send the
browser to and a :class:`PendingLogin`. The web layer keeps the pending login in the
browser's session (binding ``state`` to that browser) and hands it back, with the
callback's query parameters, to :func:`check_callback`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import attrs

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import AuthorizationError, OidcError

DEFAULT_LOGIN_LIFETIME = timedelta(minutes=15)

# OAuth error codes that get a code of their own; the rest are oidc.authorization_error.
_KNOWN_ERRORS = frozenset(
    {"access_denied", "login_required", "consent_required", "invalid_scope", "invalid_request"}
)


@attrs.frozen
class PendingLogin:
    """What the web layer keeps in the browser session between redirect and callback."""

    state: str
    nonce: str = attrs.field(repr=False)
    code_verifier: str = attrs.field(repr=False)
    issuer: str
    redirect_uri: str
    created_at: datetime

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form for a session store."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "issuer": self.issuer,
            "redirect_uri": self.redirect_uri,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin:
        """Inverse of :meth:`to_dict`; bad data is ``oidc.pending_invalid``."""
        try:
            created = datetime.fromisoformat(str(data["created_at"]))
            if created.utcoffset() is None:
                raise ValueError("created_at has no time zone")
            fields = {k: data[k] for k in ("state", "nonce", "code_verifier", "issuer")}
            if not all(isinstance(v, str) and v for v in fields.values()):
                raise ValueError("empty field")
            return cls(redirect_uri=str(data["redirect_uri"]), created_at=created, **fields)
        except (KeyError, ValueError, TypeError):
            raise OidcError("the stored login is unreadable", code="oidc.pending_invalid") from None


@attrs.frozen
class AuthorizationRequest:
    """Where to send the browser, and what to keep for the callback."""

    url: str
    pending: PendingLogin


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding.

    A verifier outside ASCII (RFC 7636 allows only unreserved characters) is
    ``input.bad_pkce_verifier``.
    """
    try:
        data = verifier.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidInput(
            "a PKCE verifier is ASCII only", code="input.bad_pkce_verifier"
        ) from None
    return base64url.encode(hashlib.sha256(data).digest())


def _add_options(
    params: dict[str, str], prompt: str | None, max_age: int | None, acr_values: tuple[str, ...]
) -> None:
    if prompt is not None:
        params["prompt"] = prompt
    if max_age is not None:
        params["max_age"] = str(max_age)
    if acr_values:
        params["acr_values"] = " ".join(acr_values)


def authorization_request(
    config: ProviderConfig,
    now: datetime,
    *,
    prompt: str | None = None,
    max_age: int | None = None,
    acr_values: tuple[str, ...] = (),
) -> AuthorizationRequest:
    """A fresh authorization request: new ``state``, ``nonce`` and PKCE S256 verifier.

    The config's hooks decide the form of ``state`` (``new_state()``), whether the
    ``nonce`` is sent (``sends_nonce``) and what its client authentication adds.
    ``prompt``, ``max_age`` (seconds) and ``acr_values`` are sent when given (OpenID
    Connect Core §3.1.2.1); checking what the answer says of them is the caller's part.
    """
    state = config.new_state()
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    params = dict(config.extra_authorization_params)
    params.update(
        response_type="code",
        client_id=config.client_id,
        redirect_uri=config.redirect_uri,
        scope=config.scope,
        state=state,
        nonce=nonce,
        code_challenge=pkce_challenge(verifier),
        code_challenge_method="S256",
    )
    if not config.sends_nonce:
        del params["nonce"]
    _add_options(params, prompt, max_age, acr_values)
    authentication = config.client_authentication()
    if authentication is not None:
        params.update(authentication.authorization_params(config, state, now))
    separator = "&" if "?" in config.authorization_endpoint else "?"
    pending = PendingLogin(
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        issuer=config.issuer,
        redirect_uri=config.redirect_uri,
        created_at=now,
    )
    return AuthorizationRequest(
        config.authorization_endpoint + separator + urlencode(params), pending
    )


class StateStore(Protocol):
    """Remembers used ``state`` values until they would have expired anyway.

    Its method is :meth:`mark_used` (a record added if absent, not a use-once read: that is
    what ``consume`` means elsewhere). A store written for the former name ``consume``
    is still called through that name, for one release.
    """

    def mark_used(self, state: str, expires_at: datetime, now: datetime) -> bool:
        """Mark ``state`` used until ``expires_at``; False if it was used before.

        Entries past their ``expires_at`` may be forgotten: a login that old is refused anyway.
        """
        ...


class InMemoryStateStore:
    """A :class:`StateStore` in this process's memory (one broker instance only)."""

    def __init__(self, prune_every: int = 1024) -> None:
        self._used: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._prune_every = prune_every
        self._since_prune = 0

    def mark_used(self, state: str, expires_at: datetime, now: datetime) -> bool:
        """Mark ``state`` used until ``expires_at``; False if it was used before."""
        with self._lock:
            self._since_prune += 1
            if self._since_prune >= self._prune_every:
                self._since_prune = 0
                self._used = {s: t for s, t in self._used.items() if t >= now}
            if state in self._used:
                return False
            self._used[state] = expires_at
            return True

    consume = mark_used
    """The former name of :meth:`mark_used`."""


def _mark_used(store: StateStore, state: str, expires_at: datetime, now: datetime) -> bool:
    mark = getattr(store, "mark_used", None)
    if mark is None:  # a store written for the former name
        mark = store.consume  # type: ignore[attr-defined]
    return bool(mark(state, expires_at, now))


def check_callback(
    config: ProviderConfig,
    pending: PendingLogin | None,
    params: Mapping[str, str],
    *,
    now: datetime,
    state_store: StateStore | None,
    lifetime: timedelta = DEFAULT_LOGIN_LIFETIME,
    other_issuers: Collection[str] = (),
) -> str:
    """Check the redirect back from the IdP; return the authorization code.

    ``pending`` is the login kept in this browser's session (None if there is none).
    The ``state`` is marked used in ``state_store`` once it matches, whatever happens
    next. ``state_store`` is None when the caller has already taken the ``state`` once
    itself (the broker keeps its login step under the ``state`` and consumes that step):
    the one use is then that caller's, and no second record is written.
    ``other_issuers`` are the other configured providers, named in mix-up refusals.
    """
    if pending is None:
        raise OidcError("no login is pending in this browser", code="oidc.no_pending_login")
    state = params.get("state", "")
    if not hmac.compare_digest(
        state.encode("utf-8", "surrogatepass"), pending.state.encode("utf-8", "surrogatepass")
    ):
        raise OidcError("state does not match this browser's login", code="oidc.state_mismatch")
    if pending.issuer != config.issuer or pending.redirect_uri != config.redirect_uri:
        raise OidcError("the pending login is for another provider", code="oidc.wrong_provider")
    expires_at = pending.created_at + lifetime
    if state_store is not None and not _mark_used(state_store, pending.state, expires_at, now):
        raise OidcError("this login's state was already used", code="oidc.state_reused")
    if now - pending.created_at > lifetime:
        raise OidcError("the login took too long", code="oidc.login_expired")
    _check_iss(config, params.get("iss"), other_issuers)
    error = params.get("error")
    if error is not None:
        raise _refused(config, error, params.get("error_description"))
    code_value = params.get("code")
    if not code_value:
        raise OidcError("the callback carries no code", code="oidc.missing_code")
    return code_value


def _refused(config: ProviderConfig, error: str, description: str | None) -> AuthorizationError:
    refusal = config.refusal(error, description)
    if refusal is None:
        code = f"oidc.{error}" if error in _KNOWN_ERRORS else None
        return AuthorizationError(error, description, code=code)
    return refusal.authorization(error, description, code=refusal.code, message=refusal.message)


def _check_iss(config: ProviderConfig, iss: str | None, other_issuers: Collection[str]) -> None:
    # RFC 9207 §2.4: compare whenever iss is present; require it when announced.
    if iss is None:
        if config.authorization_response_iss_parameter_supported:
            raise OidcError("the callback lacks iss (RFC 9207)", code="oidc.iss_missing")
        return
    if iss == config.issuer:
        return
    if iss in other_issuers:  # the mix-up attack of RFC 9207, named as such
        raise OidcError(
            f"the callback comes from another configured provider ({iss!r}), not {config.issuer!r}",
            code="oidc.wrong_provider",
        )
    raise OidcError(
        f"the callback comes from an unknown issuer ({iss!r}), not {config.issuer!r}",
        code="oidc.iss_mismatch",
    )
