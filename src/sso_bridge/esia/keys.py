"""ESIA's signing certificates as a key source: pinned ones plus those ESIA publishes.

:class:`GostKeyring` answers ``key(kid, alg)`` as :class:`~sso_bridge.oidc.keys.JwksCache`
does, for ``GOST3410_2012_256`` (GOST certificates) and ``RS256`` (RSA certificates), so that
ID tokens and ESIA's access tokens are checked by the same code as any other provider's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.esia import certificates as esia_certificates
from sso_bridge.esia import tokens as esia_tokens
from sso_bridge.esia.certificates import RsaCertificate
from sso_bridge.esia.gost import GOST_JWT_ALG, GostCertificate
from sso_bridge.keysize import rsa_minimum
from sso_bridge.oidc.errors import IdTokenError, OidcError
from sso_bridge.oidc.http import HttpClient
from sso_bridge.oidc.keys import MAX_JWKS_KEYS, weak_key_error
from sso_bridge.token_errors import OidcConfigError

__all__ = ["GostKeyring"]


class GostKeyring:
    """ESIA's token-signing certificates: those configured, plus those published.

    GOST R 34.10-2012-256 certificates check ``GOST3410_2012_256`` tokens; RSA ones (at
    least ``min_rsa_bits``, see :mod:`sso_bridge.keysize`) check ``RS256`` tokens, so an
    RS256 system can run from ESIA's certificate files without a JWKS. ``key(kid, alg)``
    has the shape of :meth:`JwksCache.key`, so that
    :func:`~sso_bridge.oidc.idtoken.validate_id_token` checks a token exactly as any other.
    ESIA's tokens name no ``kid``: each certificate of the algorithm is tried (a GOST token
    is hashed once for all of them). When none verifies and ``certificates_uri`` is set,
    the published certificates (a zip archive of certificate files, the JSON list of PEM
    strings, or a certificate file: see :mod:`sso_bridge.esia.certificates`) are fetched
    again, at most once per ``min_refetch_interval``: that is how a rotation is picked up.
    """

    def __init__(
        self,
        certificates: Sequence[GostCertificate | RsaCertificate] = (),
        *,
        certificates_uri: str | None = None,
        http: HttpClient | None = None,
        clock: Clock | None = None,
        min_refetch_interval: timedelta = timedelta(seconds=30),
        min_rsa_bits: int | None = None,
    ) -> None:
        if certificates_uri is not None and http is None:
            raise OidcConfigError(
                "a certificates_uri needs an HTTP client", code="oidc.config_invalid"
            )
        self._min_rsa_bits = rsa_minimum(min_rsa_bits)
        self._pinned = tuple(c for c in certificates if isinstance(c, GostCertificate))
        self._pinned_rsa = tuple(
            c
            for c in certificates
            if not isinstance(c, GostCertificate) and c.bits >= self._min_rsa_bits
        )
        self._pinned_weak = len(certificates) - len(self._pinned) - len(self._pinned_rsa)
        self._published = esia_certificates.CertificateSet()
        self._uri = certificates_uri
        self._http = http
        self._clock = clock or SystemClock()
        self._interval = min_refetch_interval
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]], **options: Any) -> GostKeyring:
        """A keyring of the certificates in ``paths``: certificate files (PEM or DER, GOST
        or RSA), directories of them and zip archives of them (ESIA's download).

        A path without a usable certificate is ``oidc.jwks_invalid``, a missing one
        ``oidc.config_invalid``; ``options`` are those of the constructor.
        """
        found = esia_certificates.certificates_from_paths(
            paths, min_rsa_bits=options.get("min_rsa_bits")
        )
        return cls(found.all, **options)

    def certificates(self) -> tuple[GostCertificate, ...]:
        """The GOST certificates in use: the configured ones, then the published ones."""
        with self._lock:
            self._first_fetch()
            return self._pinned + self._published.gost

    def rsa_certificates(self) -> tuple[RsaCertificate, ...]:
        """The RSA certificates in use (RS256): the configured ones, then the published."""
        with self._lock:
            self._first_fetch()
            return self._pinned_rsa + self._published.rsa

    def key(self, kid: str | None, alg: str) -> _GostKey | _RsaKeys:
        """A verifier for ``alg``: for GOST, the certificate named by ``kid`` (its hex
        Streebog-256) when there is one, else each; for RS256, each RSA certificate."""
        if alg == GOST_JWT_ALG:
            return _GostKey(self, kid)
        if alg != "RS256":
            raise IdTokenError(
                f"ESIA's certificates cannot be used with {alg}", code="oidc.key_alg_mismatch"
            )
        if not self.rsa_certificates():
            if self._pinned_weak + self._published.weak:
                raise weak_key_error(kid, alg)
            if self._uri is None:  # nothing could ever verify: say so rather than "bad"
                raise IdTokenError(
                    "ESIA's certificates hold no RSA key for RS256", code="oidc.key_alg_mismatch"
                )
        return _RsaKeys(self)

    def verify(self, signing_input: bytes, signature: bytes, kid: str | None) -> bool:
        """True when a current GOST certificate verifies; one refetch is tried before False.

        The signing input is hashed once (not at all when it is over
        :data:`~sso_bridge.esia.tokens.MAX_GOST_TOKEN_LENGTH` or the signature is not 64
        bytes) and checked against each certificate, before and after a refetch.
        """
        if len(signature) != 64:
            return False
        digest = esia_tokens.signing_input_digest(signing_input)
        if digest is None:
            return False
        if esia_tokens.gost_digest_valid(digest, signature, self.certificates(), kid):
            return True
        if not self._refetch():
            return False
        current = self._pinned + self._published.gost
        return esia_tokens.gost_digest_valid(digest, signature, current, kid)

    def verify_rsa(self, signing_input: bytes, signature: bytes) -> bool:
        """True when one of the current RSA certificates (at most :data:`MAX_JWKS_KEYS`)
        made the RS256 ``signature``; one refetch is tried before False."""
        if any(c.verify(signing_input, signature) for c in self.rsa_certificates()[:MAX_JWKS_KEYS]):
            return True
        if not self._refetch():
            return False
        current = (self._pinned_rsa + self._published.rsa)[:MAX_JWKS_KEYS]
        return any(c.verify(signing_input, signature) for c in current)

    def refresh(self) -> None:
        """Fetch the published certificates now."""
        with self._lock:
            self._refresh()

    def _first_fetch(self) -> None:
        if (
            not (self._pinned or self._pinned_rsa)
            and self._fetched_at is None
            and self._uri is not None
        ):
            self._refresh()

    def _refetch(self) -> bool:
        with self._lock:
            if self._uri is None or not self._may_refetch():
                return False
            self._refresh()
            return True

    def _may_refetch(self) -> bool:
        if self._fetched_at is None:
            return True
        return self._clock.now() - self._fetched_at >= self._interval

    def _refresh(self) -> None:
        if self._uri is None or self._http is None:
            return
        self._fetched_at = self._clock.now()
        response = self._http.get(self._uri, headers={"Accept": _CERTIFICATES_ACCEPT})
        if response.status != 200:
            raise OidcError(
                f"the certificate list answered HTTP {response.status}", code="oidc.jwks_invalid"
            )
        self._published = esia_certificates.certificates_from_bytes(
            response.body, source=self._uri, min_rsa_bits=self._min_rsa_bits
        )


_CERTIFICATES_ACCEPT = "application/zip, application/json;q=0.9, */*;q=0.5"


@attrs.frozen
class _GostKey:
    """Bound to a keyring and a ``kid``; ``verify`` as python-jose keys have it."""

    keyring: GostKeyring
    kid: str | None

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        return self.keyring.verify(signing_input, signature, self.kid)


@attrs.frozen
class _RsaKeys:
    """Every RSA certificate of a keyring; ``verify`` as python-jose keys have it."""

    keyring: GostKeyring

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        return self.keyring.verify_rsa(signing_input, signature)
