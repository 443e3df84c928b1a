"""Key types shared across the library."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["PrivateKey"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""A private key the library signs with (client assertions, CMS secrets, tokens)."""
