"""The one rule for RSA key sizes, used by every part of the library and by the mock IdP.

An RSA key from anywhere — a JWKS, an X.509 certificate, SAML metadata, a configured key,
a client's registered key at the mock IdP — must have a modulus of at least
:data:`MIN_RSA_KEY_BITS` (2048) bits. A setting may raise that minimum, never lower it:
:func:`rsa_minimum` turns a setting into the minimum to use and refuses one below 2048 as
a configuration error (``config.invalid``). Moduli above :data:`MAX_RSA_KEY_BITS` are
refused as well, since building and using such keys costs CPU for nothing.

Callers raise their own family's code for a key that is too small (``oidc.weak_key``,
``esia.weak_key``, ``saml.weak_key``, ...); this module only measures and compares.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from sso_bridge.errors import ConfigError

__all__ = [
    "MAX_RSA_KEY_BITS",
    "MIN_RSA_KEY_BITS",
    "rsa_bits",
    "rsa_key_acceptable",
    "rsa_minimum",
]

MIN_RSA_KEY_BITS: Final = 2048
"""The smallest RSA modulus accepted anywhere; configuration may only raise it."""

MAX_RSA_KEY_BITS: Final = 8192
"""The largest RSA modulus accepted: larger keys cost seconds to build and verify with."""


def rsa_minimum(setting: int | None = None) -> int:
    """The RSA minimum for ``setting`` (None: :data:`MIN_RSA_KEY_BITS`).

    A setting that is not an integer, is below :data:`MIN_RSA_KEY_BITS` or above
    :data:`MAX_RSA_KEY_BITS` raises ``config.invalid``.
    """
    if setting is None:
        return MIN_RSA_KEY_BITS
    if isinstance(setting, bool) or not isinstance(setting, int):
        raise ConfigError(
            f"the RSA key size minimum must be a whole number of bits, not {setting!r}",
            code="config.invalid",
        )
    if setting < MIN_RSA_KEY_BITS:
        raise ConfigError(
            f"the RSA key size minimum may only be raised: {setting} is below "
            f"{MIN_RSA_KEY_BITS} bits",
            code="config.invalid",
        )
    if setting > MAX_RSA_KEY_BITS:
        raise ConfigError(
            f"the RSA key size minimum {setting} is above the largest accepted key "
            f"({MAX_RSA_KEY_BITS} bits)",
            code="config.invalid",
        )
    return setting


def rsa_bits(key: object) -> int | None:
    """The modulus size of an RSA key, or of a certificate's RSA key; None for other keys."""
    if isinstance(key, x509.Certificate):
        key = key.public_key()
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return int(key.key_size)
    return None


def rsa_key_acceptable(key: object, minimum: int = MIN_RSA_KEY_BITS) -> bool:
    """False for an RSA key (or a certificate's) outside ``minimum`` ..
    :data:`MAX_RSA_KEY_BITS` bits; True for one inside, and for keys that are not RSA.

    ``minimum`` is clamped up to :data:`MIN_RSA_KEY_BITS`, so a caller's smaller number
    never weakens the rule.
    """
    bits = rsa_bits(key)
    if bits is None:
        return True
    return max(minimum, MIN_RSA_KEY_BITS) <= bits <= MAX_RSA_KEY_BITS
