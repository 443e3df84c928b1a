"""ESIA v2/v3 client authentication (``/aas/oauth2/v2/ac``, ``/aas/oauth2/v3/te``).

A client registered with ``auth_method: esia_gost`` sends, with both requests:

* ``client_certificate_hash``: hex Streebog-256 of its certificate's DER (lower- or
  upper-case);
* ``timestamp``: ``yyyy.MM.dd HH:mm:ss +0300`` (any ``±hhmm`` offset is read), within
  :data:`SKEW` of the IdP's clock;
* ``client_secret``: base64url of a raw GOST R 34.10-2012-256 signature over
  ``client_id + scope + scope_org + timestamp + state + redirect_uri`` (the token request
  appends ``code``).

The checks run in this order and give ESIA's own numbers: a missing
parameter ``ESIA-007014``, a field over its size limit (``esia.field_too_long``,
``ESIA-007003``, before anything is hashed: :data:`sso_bridge.esia.secret.FIELD_LIMITS`),
another certificate's hash (``esia.certificate_hash_wrong``, ``ESIA-007053``), a stale or
malformed timestamp ``ESIA-007015``, a signature that does not verify ``ESIA-007053``
(:data:`mock_idp.errors.ESIA_ERRORS`).

A signed v2/ac request is good once: :class:`ReplayGuard` remembers each accepted
``client_id`` + ``state`` + ``timestamp`` for ``2 × SKEW`` (the whole time the same
timestamp could pass the clock check), and the provider refuses the same request seen again
(``esia.request_replayed``, ``ESIA-007003``).
"""

from __future__ import annotations

import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from mock_idp.errors import EsiaError
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost, secret
from sso_bridge.esia.errors import EsiaClientAuthError

SKEW: Final = timedelta(minutes=5)
"""How far a client's ``timestamp`` may be from the IdP's clock, either way."""

_HEX_RE: Final = re.compile(r"[0-9a-fA-F]{64}")
_MANDATORY: Final = ("client_certificate_hash", "timestamp", "client_secret", "state")


def check_request(
    certificate: gost.GostCertificate,
    params: Mapping[str, str],
    *,
    client_id: str,
    now: datetime,
    code: str | None = None,
) -> None:
    """Check a v2/ac (``code`` None) or v3/te request's GOST client authentication.

    Raises :class:`EsiaError` with ``esia.parameter_missing``, ``esia.field_too_long``,
    ``esia.certificate_hash_wrong``, ``esia.timestamp_invalid``,
    ``esia.timestamp_stale``, ``esia.secret_malformed`` or ``esia.secret_bad_signature``.
    """
    _require_mandatory(params)
    sized = {name: params.get(name) for name in secret.FIELD_LIMITS}
    sized["client_id"] = client_id
    sized["code"] = code
    try:
        secret.check_field_sizes(sized)
    except BridgeError as exc:
        raise EsiaError(exc.message, code="esia.field_too_long") from None
    given = params["client_certificate_hash"]
    expected = secret.certificate_hash(certificate)
    if not _HEX_RE.fullmatch(given) or not hmac.compare_digest(given.lower(), expected):
        raise EsiaError(
            "client_certificate_hash is not the Streebog-256 hash of the registered "
            "certificate's DER",
            code="esia.certificate_hash_wrong",
        )
    try:
        secret.check_timestamp(params["timestamp"], now, SKEW)
        secret.verify_client_secret(
            certificate,
            params["client_secret"],
            client_id=client_id,
            scope=params.get("scope", ""),
            scope_org=params.get("scope_org", ""),
            timestamp=params["timestamp"],
            state=params["state"],
            redirect_uri=params.get("redirect_uri", ""),
            code=code,
        )
    except EsiaClientAuthError as exc:  # passed on as it is
        raise EsiaError(exc.message, code=exc.code) from None
    except BridgeError:
        raise EsiaError("client_secret does not verify", code="esia.secret_bad_signature") from None


def _require_mandatory(params: Mapping[str, str]) -> None:
    for name in _MANDATORY:
        if not params.get(name):
            raise EsiaError(
                f"the request lacks the mandatory parameter [{name}]",
                code="esia.parameter_missing",
            )


MAX_REMEMBERED: Final = 100_000
"""Most v2/ac requests a :class:`ReplayGuard` remembers; past it the oldest are forgotten."""


class ReplayGuard:
    """The signed v2/ac requests accepted in the last ``2 × SKEW``; thread-safe.

    Memory is bounded: entries older than the window are dropped as new ones come, and
    at most :data:`MAX_REMEMBERED` are kept.
    """

    def __init__(self, window: timedelta = 2 * SKEW, limit: int = MAX_REMEMBERED) -> None:
        self.window = window
        self.limit = limit
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str], datetime] = OrderedDict()

    def first_time(self, client_id: str, state: str, timestamp: str, now: datetime) -> bool:
        """Record the request; False when the same one was recorded within the window."""
        key = (client_id, state, timestamp)
        with self._lock:
            self._prune(now)
            until = self._seen.get(key)
            if until is not None and now < until:
                return False
            self._seen[key] = now + self.window
            self._seen.move_to_end(key)
            while len(self._seen) > self.limit:
                self._seen.popitem(last=False)
            return True

    def _prune(self, now: datetime) -> None:
        while self._seen:
            key, until = next(iter(self._seen.items()))
            if now < until:
                break
            del self._seen[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
