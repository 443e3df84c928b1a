"""Errors of the SAML service provider; each refusal has its own stable ``saml.*`` code."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["SamlError", "refuse"]


class SamlError(BridgeError):
    """A SAML message, signature or configuration was refused; ``code`` says why."""

    code = "saml.invalid"


def refuse(code: str, message: str) -> SamlError:
    """A :class:`SamlError` with ``code`` (a convenience for ``raise refuse(...)``)."""
    return SamlError(message, code=code)
