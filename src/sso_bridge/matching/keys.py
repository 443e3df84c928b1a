"""Match keys: the normalised, comparable form of a person's identity data.

SNILS and passport numbers enter the keys only as keyed hashes (a *blind index*):
HMAC-SHA256 under a server secret, truncated to 128 bits, so that a stolen table does not
give the numbers away and cannot be reversed by hashing all 10^11 possible SNILS without
the key. :class:`MatchKeys` and its index key (:func:`name_key`) are values of
:mod:`sso_bridge.model`, named here too.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from sso_bridge.errors import ConfigError, InvalidInput
from sso_bridge.matching.normalize import (
    normalize_name,
    normalize_optional_name,
    parse_passport,
    parse_snils,
)
from sso_bridge.model import FederatedIdentity, LocalAccount, MatchKeys, date_number, name_key

__all__ = [
    "HASH_BYTES",
    "MIN_KEY_BYTES",
    "BlindIndex",
    "MatchKeys",
    "account_keys",
    "date_number",
    "identity_keys",
    "name_key",
    "number_date",
]

MIN_KEY_BYTES = 32
HASH_BYTES = 16
_SHA256_BLOCK = 64
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class BlindIndex:
    """Keyed hashes of SNILS and passport numbers, for equality lookups only."""

    __slots__ = ("_inner", "_key", "_outer", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"the blind-index key must have at least {MIN_KEY_BYTES} bytes",
                code="config.key_too_short",
            )
        self._key = key
        # Identifies the key without revealing it, so a store can refuse a wrong key.
        self.key_id = hmac.new(key, b"sso_bridge key id", hashlib.sha256).hexdigest()[:16]
        # HMAC's padded-key states, computed once: each hash then costs two compressions
        # instead of four (RFC 2104; the bytes are exactly those of hmac.digest).
        block = key if len(key) <= _SHA256_BLOCK else hashlib.sha256(key).digest()
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def derive_key(self, purpose: str) -> bytes:
        """32 bytes for another secret kept under this key (the audit trail's
        commitments), HMAC-SHA256 of ``purpose`` under it: the key itself stays here."""
        return hmac.digest(self._key, b"sso_bridge derived " + purpose.encode(), hashlib.sha256)

    def __reduce__(self) -> tuple[type[BlindIndex], tuple[bytes]]:
        return (BlindIndex, (self._key,))

    def _hash(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:HASH_BYTES]

    def __repr__(self) -> str:
        return f"BlindIndex(key_id={self.key_id!r})"

    def snils(self, digits: str) -> bytes:
        """Hash of a SNILS already normalised by :func:`parse_snils`."""
        return self._hash(b"snils:" + digits.encode("ascii"))

    def passport(self, digits: str) -> bytes:
        """Hash of a passport already normalised by :func:`parse_passport`."""
        return self._hash(b"passport:" + digits.encode("ascii"))


def number_date(value: int) -> date:
    return date(value // 10000, value // 100 % 100, value % 100)


def identity_keys(
    identity: FederatedIdentity, index: BlindIndex
) -> tuple[MatchKeys, tuple[str, ...]]:
    """Keys of a federated identity, and warnings about data treated as absent.

    An invalid SNILS or passport is treated as absent and reported (code in the
    warnings), never as a conflict.
    """
    warnings: list[str] = []
    snils = passport = None
    if identity.snils:
        try:
            snils = index.snils(parse_snils(identity.snils))
        except InvalidInput as exc:
            warnings.append(exc.code)
    if identity.passport:
        try:
            passport = index.passport(parse_passport(identity.passport))
        except InvalidInput as exc:
            warnings.append(exc.code)
    keys = MatchKeys(
        last=normalize_name(identity.last_name or ""),
        first=normalize_name(identity.first_name or ""),
        middle=normalize_optional_name(identity.middle_name),
        birth_date=identity.birth_date,
        snils=snils,
        passport=passport,
    )
    return keys, tuple(warnings)


def account_keys(account: LocalAccount, index: BlindIndex) -> MatchKeys:
    """Keys of a local account; its SNILS and passport must already be valid."""
    return MatchKeys(
        last=normalize_name(account.last_name),
        first=normalize_name(account.first_name),
        middle=normalize_optional_name(account.middle_name),
        birth_date=account.birth_date,
        snils=index.snils(parse_snils(account.snils)) if account.snils else None,
        passport=index.passport(parse_passport(account.passport)) if account.passport else None,
    )
