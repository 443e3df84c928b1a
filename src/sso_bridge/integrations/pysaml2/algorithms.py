"""The algorithms :class:`~sso_bridge.integrations.pysaml2.XmlSecBackend` produces and
accepts, by URI, with python-xmlsec's transforms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import xmlsec

if TYPE_CHECKING:
    # python-xmlsec's stubs name the transform type but do not export it.
    from xmlsec.constants import __Transform as Transform

__all__ = [
    "AES128_CBC",
    "AES128_GCM",
    "AES256_CBC",
    "AES256_GCM",
    "DATA_ENCRYPTION_METHODS",
    "DIGEST_METHODS",
    "NS",
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA256",
    "SHA384",
    "SHA512",
    "SIGNATURE_METHODS",
]

_C = xmlsec.constants

RSA_SHA256: Final = _C.TransformRsaSha256.href
RSA_SHA384: Final = _C.TransformRsaSha384.href
RSA_SHA512: Final = _C.TransformRsaSha512.href
SHA256: Final = _C.TransformSha256.href
SHA384: Final = _C.TransformSha384.href
SHA512: Final = _C.TransformSha512.href
AES128_GCM: Final = _C.TransformAes128Gcm.href
AES256_GCM: Final = _C.TransformAes256Gcm.href
AES128_CBC: Final = _C.TransformAes128Cbc.href
AES256_CBC: Final = _C.TransformAes256Cbc.href

SIGNATURE_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t for t in (_C.TransformRsaSha256, _C.TransformRsaSha384, _C.TransformRsaSha512)
}
"""Signature algorithms this backend produces (and will accept), by URI."""

DIGEST_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t for t in (_C.TransformSha256, _C.TransformSha384, _C.TransformSha512)
}
"""Digest algorithms this backend produces (and will accept), by URI."""

DATA_ENCRYPTION_METHODS: Final[Mapping[str, tuple[Transform, int]]] = {
    AES128_GCM: (_C.TransformAes128Gcm, 128),
    AES256_GCM: (_C.TransformAes256Gcm, 256),
    AES128_CBC: (_C.TransformAes128Cbc, 128),
    AES256_CBC: (_C.TransformAes256Cbc, 256),
}
"""Content encryption algorithms by URI, with their key sizes in bits."""

NS: Final = {"ds": _C.DSigNs, "xenc": _C.EncNs}
"""Prefixes of XML signature and XML encryption, for finding their elements."""
