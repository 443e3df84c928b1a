"""Logout over OpenID Connect: the RP-initiated logout request (OpenID Connect
RP-Initiated Logout 1.0) and the back-channel logout token (OpenID Connect Back-Channel
Logout 1.0, §2.4 and §2.6).

A logout token is checked like an ID token where the two agree (the signature by the
provider's keys and its algorithm allow-list, ``iss``, ``aud``, ``iat``) and as §2.6 asks
where they differ: the ``events`` claim must hold the back-channel logout event, a
``nonce`` is refused, ``sid`` or ``sub`` (or both) must be there, and each ``jti`` is
accepted once (kept in the :class:`~sso_bridge.ephemeral.EphemeralStore` for as long as
the token could be accepted).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.idp import Answer, RedirectTo, Remembered
from sso_bridge.logout import IdpLogoutNotice, LoggedOutAtIdp, LogoutStarted
from sso_bridge.model import IdpSession
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.idtoken import KeyLookup, numeric_date, verify_jws
from sso_bridge.oidc.rp import RelyingParty
from sso_bridge.token_errors import OidcLogoutError

__all__ = [
    "BACKCHANNEL_EVENT",
    "LOGOUT_JTI_KIND",
    "LOGOUT_TOKEN_MAX_AGE",
    "OidcLogout",
    "end_session_url",
    "verify_logout_token",
]

BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
"""The member of the ``events`` claim that makes a JWT a back-channel logout token."""
LOGOUT_JTI_KIND: Final = "logout_jti"
"""The :class:`EphemeralStore` kind under which used logout token ids are kept."""
LOGOUT_TOKEN_MAX_AGE: Final = timedelta(minutes=5)
"""How old (by ``iat``) a logout token may be; the IdP sends it as the logout happens."""
_TYPES: Final = (None, "JWT", "logout+jwt", "application/logout+jwt")
_WHAT: Final = "logout token"


def end_session_url(
    config: ProviderConfig,
    *,
    post_logout_redirect_uri: str,
    state: str,
    id_token_hint: str | None = None,
) -> str:
    """The IdP's ``end_session_endpoint`` with the logout request's parameters:
    ``client_id``, ``post_logout_redirect_uri`` (registered at the IdP), ``state`` and,
    when known, ``id_token_hint``. ``oidc.no_end_session`` when the IdP has no endpoint."""
    endpoint = config.end_session_endpoint
    if not endpoint:
        raise OidcLogoutError(
            f"{config.issuer} has no end_session_endpoint", code="oidc.no_end_session"
        )
    params = {"client_id": config.client_id}
    if id_token_hint:
        params["id_token_hint"] = id_token_hint
    params["post_logout_redirect_uri"] = post_logout_redirect_uri
    params["state"] = state
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def _invalid(reason: str) -> OidcLogoutError:
    return OidcLogoutError(f"the logout token {reason}", code="oidc.logout_token_invalid")


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return aud
    raise _invalid("has no aud, or an aud that is neither a string nor a list of strings")


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(f"has a {name} that is not a non-empty string")
    return value


def _check_times(
    claims: Mapping[str, Any], config: ProviderConfig, now: datetime, max_age: timedelta
) -> datetime:
    """Check ``iat`` (and ``exp`` when present); the moment the token stops being
    acceptable, until which its ``jti`` is remembered."""
    if "iat" not in claims:
        raise _invalid("has no iat")
    moment, skew = now.timestamp(), config.skew.total_seconds()
    iat = numeric_date(claims, "iat", _WHAT)
    if iat > moment + skew:
        raise _invalid("was issued in the future")
    last = iat + max_age.total_seconds() + skew
    if moment > last:
        raise _invalid("is too old")
    if "exp" in claims:
        exp = numeric_date(claims, "exp", _WHAT)
        if moment > exp + skew:
            raise _invalid("has expired")
        last = min(last, exp + skew)
    return now + timedelta(seconds=max(last - moment, 1.0))


def verify_logout_token(
    token: str,
    config: ProviderConfig,
    key_for: KeyLookup,
    *,
    now: datetime,
    replay: EphemeralStore,
    max_age: timedelta = LOGOUT_TOKEN_MAX_AGE,
) -> IdpLogoutNotice:
    """Check a back-channel logout token for ``config``'s client; the sessions it ends.

    Refusals: those of the signature check (``oidc.malformed_token``,
    ``oidc.alg_not_allowed``, ``oidc.bad_signature``, the key lookup's), then
    ``oidc.logout_token_invalid`` (issuer, audience, ``azp``, times, a claim's form),
    ``oidc.logout_token_event``, ``oidc.logout_token_nonce``,
    ``oidc.logout_token_no_session`` and ``oidc.logout_token_replayed``.
    """
    _, header, claims = verify_jws(token, config, key_for, what=_WHAT)
    if header.get("typ") not in _TYPES:
        raise _invalid(f"has the type {header.get('typ')!r}, not logout+jwt")
    _check_parties(claims, config)
    remember_until = _check_times(claims, config, now, max_age)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise OidcLogoutError(
            "the logout token has no back-channel logout event", code="oidc.logout_token_event"
        )
    if "nonce" in claims:
        raise OidcLogoutError("a logout token must carry no nonce", code="oidc.logout_token_nonce")
    sid, subject = _text(claims, "sid"), _text(claims, "sub")
    if sid is None and subject is None:
        raise OidcLogoutError(
            "the logout token names neither sid nor sub", code="oidc.logout_token_no_session"
        )
    jti = _text(claims, "jti")
    if jti is None:
        raise _invalid("has no jti")
    key = hashlib.sha256(f"{config.issuer}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    if not replay.add(LOGOUT_JTI_KIND, key, b"", remember_until, now):
        raise OidcLogoutError(
            "this logout token was already used", code="oidc.logout_token_replayed"
        )
    return IdpLogoutNotice(
        issuer=config.issuer, sids=() if sid is None else (sid,), subject=subject
    )


def _check_parties(claims: Mapping[str, Any], config: ProviderConfig) -> None:
    """The token comes from the IdP and is for this client (``aud``, and ``azp`` if any)."""
    if claims.get("iss") != config.issuer:
        raise _invalid(f"comes from {claims.get('iss')!r}, not {config.issuer!r}")
    audiences = _audiences(claims)
    if config.client_id not in audiences:
        raise _invalid(f"is not for {config.client_id!r}")
    azp = claims.get("azp")
    if azp is not None and azp != config.client_id:
        raise _invalid(f"names another client in azp ({azp!r})")


class OidcLogout:
    """Logout for :class:`~sso_bridge.oidc.provider.OidcProvider`: RP-initiated logout at
    the IdP's ``end_session_endpoint`` (when ``post_logout_redirect_uri`` is set) and the
    back-channel logout token (:class:`~sso_bridge.logout.LogsOutAtIdp`,
    :class:`~sso_bridge.logout.HearsIdpLogout`)."""

    name: str
    relying_party: RelyingParty
    post_logout_redirect_uri: str | None

    def can_log_out(self) -> bool:
        """Whether the IdP has an end-session endpoint and a return address is set."""
        return bool(
            self.relying_party.config.end_session_endpoint and self.post_logout_redirect_uri
        )

    def start_logout(self, idp: IdpSession, *, now: datetime) -> LogoutStarted:
        """The browser to the IdP's end-session endpoint, with a new ``state``."""
        if not self.post_logout_redirect_uri:
            raise OidcLogoutError(
                f"provider {self.name!r} has no post_logout_redirect_uri",
                code="oidc.no_end_session",
            )
        state = secrets.token_urlsafe(32)
        url = end_session_url(
            self.relying_party.config,
            post_logout_redirect_uri=self.post_logout_redirect_uri,
            state=state,
            id_token_hint=idp.id_token,
        )
        return LogoutStarted(RedirectTo(url), state)

    def logout_state(self, answer: Answer) -> str | None:
        """The ``state`` the IdP sent back (None: none)."""
        return answer.get("state") or None

    def finish_logout(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        query_string: str | None = None,
    ) -> LoggedOutAtIdp:
        """Nothing to check beyond the ``state``, whose logout the broker has taken."""
        return LoggedOutAtIdp(self.name)

    def read_logout_token(
        self, token: str, *, now: datetime, replay: EphemeralStore
    ) -> IdpLogoutNotice:
        """A back-channel logout token, verified with the IdP's keys."""
        rp = self.relying_party
        return verify_logout_token(token, rp.config, rp.signing_key, now=now, replay=replay)
