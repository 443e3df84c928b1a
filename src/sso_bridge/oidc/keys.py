"""The provider's signing keys: JWKS parsed once, keys picked by ``kid``, refetch on demand.

The keys themselves are parsed in :mod:`sso_bridge.oidc.jwk` (whose names are importable
from here too).
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
from jose import jwk
from jose.exceptions import JOSEError

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.keysize import rsa_minimum
from sso_bridge.oidc.errors import IdTokenError, OidcError
from sso_bridge.oidc.http import HttpClient, HttpResponse
from sso_bridge.oidc.jwk import (
    MAX_JWKS_KEYS,
    ParsedKey,
    modulus_bits,
    parse_jwks,
    select_key,
    weak_key_error,
)

if TYPE_CHECKING:
    from sso_bridge.ephemeral import EphemeralStore

__all__ = [
    "JWKS_KIND",
    "MAX_JWKS_KEYS",
    "SHARED_JWKS_LIFETIME",
    "JwksCache",
    "ParsedKey",
    "jwk",
    "modulus_bits",
    "parse_jwks",
    "select_key",
    "weak_key_error",
]

JWKS_KIND = "jwks"
"""The :class:`EphemeralStore` kind under which a shared JWKS document is kept."""
SHARED_JWKS_LIFETIME = timedelta(hours=1)


class JwksCache:
    """The provider's JWKS, fetched on first use and again for an unknown ``kid``.

    Refetches are at most one per ``min_refetch_interval``, so that tokens with made-up
    key IDs cannot make the relying party hammer the IdP. Thread-safe.

    With a ``store``, the fetched document is kept there (kind ``jwks``, key the
    ``jwks_uri``, for an hour) and read from there first, so that broker processes
    sharing the store share one fetch; a document there that differs from the one in use
    (another process saw a rotation) is taken before the IdP is asked.

    RSA keys under ``min_rsa_bits`` (default and floor: 2048, see
    :mod:`sso_bridge.keysize`; a smaller setting is ``config.invalid``) are not used.

    ``try_each_without_kid`` (for a provider whose tokens name no ``kid``): a token without a
    ``kid`` is checked against each key that fits its algorithm (at most
    :data:`MAX_JWKS_KEYS`), and the JWKS fetched again (once per interval) when none
    verifies, instead of being ``oidc.kid_ambiguous`` when several fit.
    """

    def __init__(
        self,
        http: HttpClient,
        jwks_uri: str,
        algorithms: Collection[str],
        *,
        clock: Clock | None = None,
        min_refetch_interval: timedelta = timedelta(seconds=30),
        store: EphemeralStore | None = None,
        min_rsa_bits: int | None = None,
        try_each_without_kid: bool = False,
    ) -> None:
        self._min_rsa_bits = rsa_minimum(min_rsa_bits)
        self._each = try_each_without_kid
        self._http = http
        self._store = store
        self._document: bytes | None = None
        self._uri = jwks_uri
        self._algorithms = tuple(algorithms)
        self._clock = clock or SystemClock()
        self._interval = min_refetch_interval
        self._keys: tuple[ParsedKey, ...] = ()
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def keys(self) -> tuple[ParsedKey, ...]:
        """The current keys, fetching them the first time."""
        with self._lock:
            if self._fetched_at is None:
                self._refresh()
            return self._keys

    def key(self, kid: str | None, alg: str) -> Any:
        """The jose key for ``kid`` and ``alg``; ``oidc.unknown_kid`` when there is none."""
        if kid is None and self._each:
            keys = self.keys()
            if not any(alg in key.keys for key in keys):
                if any(alg in key.weak_for for key in keys):
                    raise weak_key_error(None, alg)
                raise IdTokenError(f"the JWKS has no key for {alg}", code="oidc.unknown_kid")
            return _EachKey(self, alg)
        found = select_key(self.keys(), kid, alg)
        if found is None and kid is not None:
            with self._lock:
                if self._may_refetch():
                    self._refresh()
                found = select_key(self._keys, kid, alg)
        if found is None:
            raise IdTokenError(f"no key with kid {kid!r} in the JWKS", code="oidc.unknown_kid")
        return found

    def verify_each(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """True when one of the keys for ``alg`` (at most :data:`MAX_JWKS_KEYS`) verifies
        the signature; the JWKS is fetched again once (per interval) before False."""
        if _any_verifies(self.keys(), alg, signing_input, signature):
            return True
        with self._lock:
            if not self._may_refetch():
                return False
            self._refresh()
            keys = self._keys
        return _any_verifies(keys, alg, signing_input, signature)

    def _may_refetch(self) -> bool:
        if self._fetched_at is None:
            return True
        return self._clock.now() - self._fetched_at >= self._interval

    def _refresh(self) -> None:
        now = self._clock.now()
        self._fetched_at = now
        if self._store is not None:
            shared = self._store.get(JWKS_KIND, self._uri, now)
            if shared is not None and shared != self._document:
                self._load(HttpResponse(status=200, body=shared))
                return
        response = self._http.get(self._uri, headers={"Accept": "application/json"})
        if response.status != 200:
            raise OidcError(f"the JWKS answered HTTP {response.status}", code="oidc.jwks_invalid")
        self._load(response)
        if self._store is not None:
            self._store.put(JWKS_KIND, self._uri, response.body, now + SHARED_JWKS_LIFETIME, now)

    def _load(self, response: HttpResponse) -> None:
        self._keys = parse_jwks(
            response.json_object("JWKS"),
            self._algorithms,
            self._keys,
            min_rsa_bits=self._min_rsa_bits,
        )
        self._document = response.body


def _any_verifies(
    keys: Sequence[ParsedKey], alg: str, signing_input: bytes, signature: bytes
) -> bool:
    fitting = [key.keys[alg] for key in keys if alg in key.keys][:MAX_JWKS_KEYS]
    for key in fitting:
        try:
            if key.verify(signing_input, signature):
                return True
        except (JOSEError, ValueError, TypeError):
            continue
    return False


@attrs.frozen
class _EachKey:
    """Every key of a :class:`JwksCache` for one algorithm; ``verify`` as jose keys."""

    cache: JwksCache
    alg: str

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        return self.cache.verify_each(self.alg, signing_input, signature)


def __getattr__(name: str) -> Any:
    # Deprecated for one release: GostKeyring moved to sso_bridge.esia.keys.
    if name == "GostKeyring":
        warnings.warn(
            "sso_bridge.oidc.keys.GostKeyring moved to sso_bridge.esia.keys",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sso_bridge.esia.keys"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
