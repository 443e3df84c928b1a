"""Recovery codes: ten one-time codes that stand in for the authenticator app.

A code is 16 characters of Crockford's base32 (80 random bits), shown in four groups of
four: ``7KQM-4XRT-92HD-W0ZB``. Input is forgiving: case, spaces and dashes do not matter,
``O`` reads as ``0`` and ``I``/``L`` as ``1``, and Cyrillic letters that look like Latin ones
(a Russian keyboard layout) read as those. Only a salted SHA-256 of each code is stored
(:class:`~sso_bridge.mfa.credentials.CredentialStore`); a code is spent by removing its
hash in one atomic store operation, so two processes cannot both accept it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from sso_bridge.mfa.credentials import CredentialStore

__all__ = [
    "ALPHABET",
    "CODE_CHARS",
    "COUNT",
    "RecoveryCodes",
    "hash_code",
    "new_code",
    "normalise_code",
]

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U."""

CODE_CHARS: Final = 16
"""Characters of a code without its dashes: 80 bits."""

COUNT: Final = 10
"""Codes in a set."""

MAX_INPUT_CHARS: Final = 64
"""Longer input is refused before it is normalised or hashed."""

_SALT_BYTES: Final = 16
_PURPOSE: Final = b"sso_bridge recovery code v1\x00"

# What is read as what: ambiguous letters, and Cyrillic look-alikes of the alphabet.
_READ_AS: Final = str.maketrans(
    {
        "O": "0",
        "I": "1",
        "L": "1",
        "А": "A",
        "В": "B",
        "Е": "E",
        "З": "3",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "0",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
    }
)
_IGNORED: Final = frozenset(" -\t\u00a0\u2010\u2011\u2012\u2013\u2014")
_ALLOWED: Final = frozenset(ALPHABET)


def new_code() -> str:
    """A fresh code as shown: four groups of four characters joined by dashes."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(given: str) -> str | None:
    """The 16 characters ``given`` stands for, or None when it cannot be a code."""
    if len(given) > MAX_INPUT_CHARS:
        return None
    compact = "".join(c for c in given.upper() if c not in _IGNORED).translate(_READ_AS)
    if len(compact) != CODE_CHARS or not _ALLOWED.issuperset(compact):
        return None
    return compact


def hash_code(account_id: str, code: str, salt: bytes | None = None) -> bytes:
    """What is stored for a normalised ``code`` of ``account_id``: salt then SHA-256.

    The account id is hashed in, so a hash copied to another account does not pass.
    """
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.sha256(
        _PURPOSE + salt + account_id.encode() + b"\x00" + code.encode()
    ).digest()
    return salt + digest


class RecoveryCodes:
    """Makes, counts and spends the recovery codes kept in ``credentials``."""

    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def generate(self, account_id: str) -> tuple[str, ...]:
        """A new set of :data:`COUNT` codes, replacing any earlier set; the codes are
        returned once and never kept."""
        codes = tuple(new_code() for _ in range(COUNT))
        hashes = [hash_code(account_id, normalise_code(code) or "") for code in codes]
        self.credentials.set_recovery_codes(account_id, hashes)
        return codes

    def left(self, account_id: str) -> int:
        """How many unused codes the account has."""
        return len(self.credentials.recovery_code_hashes(account_id))

    def remove(self, account_id: str) -> None:
        """Forget every code of the account."""
        self.credentials.set_recovery_codes(account_id, ())

    def use(self, account_id: str, given: str) -> int | None:
        """Spend the code ``given``: the number of codes left after it, or None when it is
        not an unused code of the account (malformed, wrong, or spent already)."""
        code = normalise_code(given)
        stored = self.credentials.recovery_code_hashes(account_id)
        if code is None or not stored:
            return None
        found: bytes | None = None
        for candidate in stored:  # every one is compared: no early exit
            salt = candidate[:_SALT_BYTES]
            if hmac.compare_digest(hash_code(account_id, code, salt), candidate):
                found = candidate
        if found is None:
            return None
        return self.credentials.use_recovery_code(account_id, found)
