"""From an IdP's answers to a :class:`~sso_bridge.model.FederatedIdentity`, without I/O."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from sso_bridge.matching.normalize import parse_date_or_none
from sso_bridge.model import FederatedIdentity
from sso_bridge.oidc.errors import OidcError


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value.strip() else None


def identity_from_claims(
    issuer: str,
    id_claims: Mapping[str, Any],
    userinfo: Mapping[str, Any] | None = None,
    *,
    trusted: Callable[[Mapping[str, Any]], bool] | None = None,
) -> FederatedIdentity:
    """Standard claims (``family_name``, ``given_name``, ``middle_name``, ``birthdate``
    ``YYYY-MM-DD``, ``snils``, verified ``email`` / ``phone_number``) to an identity.

    ``verified`` is ``trusted`` (true) from userinfo or the ID token; without a
    ``trusted`` member, a provider profile's own reading of the ID token's claims
    (``trusted``, a predicate) may say so; anything else means not verified.
    """
    info: dict[str, Any] = dict(id_claims)
    info.update(userinfo or {})
    subject = str(id_claims["sub"])
    if userinfo is not None and userinfo.get("sub") != subject:
        raise OidcError("userinfo describes another subject", code="oidc.userinfo_sub_mismatch")
    verified = info.get("trusted") is True or (
        "trusted" not in info and trusted is not None and trusted(id_claims)
    )
    return FederatedIdentity(
        issuer=issuer,
        subject=subject,
        verified=verified,
        last_name=_text(info, "family_name"),
        first_name=_text(info, "given_name"),
        middle_name=_text(info, "middle_name"),
        birth_date=parse_date_or_none(_text(info, "birthdate")),
        snils=_text(info, "snils"),
        email=_text(info, "email") if info.get("email_verified") is True else None,
        phone=_text(info, "phone_number") if info.get("phone_number_verified") is True else None,
        claims=info,
    )


def __getattr__(name: str) -> Any:
    # Deprecated for one release: identity_from_esia_person moved to sso_bridge.esia.
    if name == "identity_from_esia_person":
        warnings.warn(
            f"sso_bridge.oidc.identity.{name} moved to sso_bridge.esia.person_api",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sso_bridge.esia.person_api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
