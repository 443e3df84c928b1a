"""The one error of the pysaml2 integration."""

from __future__ import annotations

from saml2.sigver import XmlsecError

from sso_bridge.saml.errors import SamlError

__all__ = ["SamlCryptoError"]


class SamlCryptoError(SamlError, XmlsecError):  # type: ignore[misc]
    """Signing or encryption of a SAML message failed.

    It is also a pysaml2 ``XmlsecError``, so pysaml2 treats it like a failure of its own
    backends (for instance by trying the next certificate of the recipient).
    """

    code = "saml.crypto_failed"
