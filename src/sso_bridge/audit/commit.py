"""Keyed commitments to the personal fields of audit records (docs/audit.md, "Commitments").

For each personal field (:data:`~sso_bridge.model.AUDIT_PERSONAL_FIELDS`) with a value,
a record keeps ``commitment = HMAC-SHA256(key, nonce || field name || 0x00 || value)``
cut to 15 bytes (RFC 2104 allows down to half the output), with a random 12-byte nonce
of its own, both in base64. The chain hashes
the commitments, not the values. Purging a value removes the value *and its nonce*: the
commitment stays, so the chain still verifies, and without the nonce no one (not even
someone holding the key) can test a guess of the value against it.

The stored form, :attr:`~sso_bridge.model.AuditEvent.commitments`, is one text: an entry
per personal field in order, joined by ``,``; an entry is empty (the field had no value),
``COMMITMENT.NONCE`` (the value is kept) or ``COMMITMENT`` (it was purged).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Collection, Mapping
from typing import Any

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sso_bridge.errors import ConfigError
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditEvent

__all__ = [
    "COMMITMENT_BYTES",
    "NONCE_BYTES",
    "CommitmentKey",
    "commitment_list",
    "entries",
    "value_problem",
]

NONCE_BYTES = 12
"""96 bits: no guess of a purged value can be tested once its nonce is gone; a multiple
of 3, so that the nonces of a record are encoded in one go and cut apart."""
COMMITMENT_BYTES = 15
"""120 bits: finding another value with the same commitment needs the key and about
2**120 tries; short, because every record stores five or six of them, and a multiple of
3, as the nonces are."""
_COMMITMENT_CHARS = COMMITMENT_BYTES // 3 * 4
_NONCE_CHARS = NONCE_BYTES // 3 * 4
_NAMES = tuple(name.encode("ascii") + b"\x00" for name in AUDIT_PERSONAL_FIELDS)
_COUNT = len(AUDIT_PERSONAL_FIELDS)
_SHA256_BLOCK = 64
_HKDF_SALT = b"sso_bridge audit"
_HKDF_INFO = b"audit field commitments, version 1"


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)


def entries(event: AuditEvent) -> list[str] | None:
    """The per-field entries of ``event``'s commitments; ``None`` for a format-1 record,
    or when the text does not have one entry per personal field."""
    text = event.commitments
    if text is None or not isinstance(text, str):
        return None
    found = text.split(",")
    return found if len(found) == _COUNT else None


def _empty(name: str, value: object) -> bool:
    # a purged actor is kept as "" (the column cannot be NULL)
    return value is None or (name == "actor" and value == "")


def value_problem(event: AuditEvent, key: CommitmentKey | None) -> str | None:
    """Why ``event``'s personal values do not agree with its commitments, or ``None``.

    Without ``key`` only the shape is checked (a kept value has a nonce, a purged one has
    none); with it each kept value's commitment is computed again.
    """
    found = entries(event)
    if found is None:
        return "the record's commitments are unreadable"
    for index, (name, entry) in enumerate(zip(AUDIT_PERSONAL_FIELDS, found, strict=True)):
        value = getattr(event, name)
        commitment, dot, nonce = entry.partition(".")
        if not entry:
            ok = value is None
        elif not dot:
            ok = _empty(name, value)  # purged: the value must be gone too
        elif not isinstance(value, str):
            ok = False
        elif key is None:
            ok = True
        else:
            try:
                expected = key.commit_field(index, _unb64(nonce), value)
            except (binascii.Error, ValueError):
                expected = ""
            ok = hmac.compare_digest(expected, commitment)
        if not ok:
            return f"the {name} does not match its commitment"
    return None


@attrs.frozen(repr=False)
class CommitmentKey:
    """The secret key of the commitments (32 bytes), and the commitments made with it."""

    key: bytes = attrs.field(repr=False)
    _inner: Any = attrs.field(init=False, repr=False, eq=False)
    _outer: Any = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if len(self.key) < 32:
            raise ConfigError("the commitment key needs 32 bytes or more", code="config.invalid")
        # HMAC's padded-key states, made once (RFC 2104): a commitment then costs two
        # compressions and no HMAC object (the bytes are exactly those of hmac.digest)
        block = self.key if len(self.key) <= _SHA256_BLOCK else hashlib.sha256(self.key).digest()
        block = block.ljust(_SHA256_BLOCK, b"\0")
        object.__setattr__(self, "_inner", hashlib.sha256(bytes(b ^ 0x36 for b in block)))
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in block)))

    def __repr__(self) -> str:
        return "CommitmentKey(...)"

    def __reduce__(self) -> tuple[type[CommitmentKey], tuple[bytes]]:
        return (CommitmentKey, (self.key,))

    @classmethod
    def derive(cls, secret: bytes) -> CommitmentKey:
        """The key derived from ``secret`` (the store's blind-index key) with HKDF-SHA256
        and a label of its own, so it is unrelated to every other key derived from it."""
        return cls(HKDF(hashes.SHA256(), 32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(secret))

    @classmethod
    def random(cls) -> CommitmentKey:
        """A fresh key (an in-memory log's, which lives as long as its records)."""
        return cls(secrets.token_bytes(32))

    def commit_field(self, index: int, nonce: bytes, value: str) -> str:
        """The commitment to ``value`` of the ``index``-th personal field with ``nonce``."""
        inner = self._inner.copy()
        inner.update(nonce + _NAMES[index] + value.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return _b64(outer.digest()[:COMMITMENT_BYTES])

    def commitments_of(self, values: Mapping[str, str | None]) -> str:
        """Fresh commitments (the stored text) to the personal ``values``, by field name
        (a field left out has no value); one ``os.urandom`` for every nonce.

        :meth:`commit_field` for each value, written out: this runs on every append.
        """
        pool = os.urandom(NONCE_BYTES * _COUNT)
        first_inner, first_outer = self._inner, self._outer
        digests: list[bytes] = []
        kept: list[int] = []
        for index, name in enumerate(AUDIT_PERSONAL_FIELDS):
            value = values.get(name)
            if value is None:
                continue
            at = index * NONCE_BYTES
            inner = first_inner.copy()
            inner.update(
                pool[at : at + NONCE_BYTES] + _NAMES[index] + value.encode("utf-8", "surrogatepass")
            )
            outer = first_outer.copy()
            outer.update(inner.digest())
            digests.append(outer.digest()[:COMMITMENT_BYTES])
            kept.append(index)
        commitments = _b64(b"".join(digests))
        nonces = _b64(pool)
        found = [""] * _COUNT
        for n, index in enumerate(kept):
            commitment = commitments[n * _COMMITMENT_CHARS : (n + 1) * _COMMITMENT_CHARS]
            nonce = nonces[index * _NONCE_CHARS : (index + 1) * _NONCE_CHARS]
            found[index] = f"{commitment}.{nonce}"
        return ",".join(found)

    def commit(self, event: AuditEvent) -> AuditEvent:
        """``event`` with fresh commitments to its personal values."""
        values = {name: getattr(event, name) for name in AUDIT_PERSONAL_FIELDS}
        return attrs.evolve(event, commitments=self.commitments_of(values))

    def purge(self, event: AuditEvent, fields: Collection[str]) -> AuditEvent:
        """``event`` with the values of ``fields`` (and their nonces) removed.

        Fields without a value, already purged, or not personal are left alone; a
        format-1 record is returned unchanged (its chain covers its values).
        """
        found = entries(event)
        if found is None:
            return event
        changes: dict[str, str | None] = {}
        for index, name in enumerate(AUDIT_PERSONAL_FIELDS):
            if name not in fields:
                continue
            commitment, dot, _ = found[index].partition(".")
            if dot:
                found[index] = commitment
                changes[name] = "" if name == "actor" else None
        if not changes:
            return event
        return attrs.evolve(event, commitments=",".join(found), **changes)  # type: ignore[arg-type]


def commitment_list(event: AuditEvent) -> list[str | None] | None:
    """The commitments the chain hashes for ``event`` (``None`` where a field had no
    value), or ``None`` when they cannot be read."""
    found = entries(event)
    if found is None:
        return None
    return [entry.partition(".")[0] or None for entry in found]
