"""When a login needs a second factor, and when the IdP has already done one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from sso_bridge.model import LocalAccount

__all__ = [
    "DEFAULT_MFA_ACR",
    "DEFAULT_MFA_AMR",
    "DEFAULT_MFA_AUTHN_CONTEXTS",
    "DEFAULT_STAFF_ROLES",
    "SecondFactorPolicy",
]

DEFAULT_STAFF_ROLES = frozenset({"teacher", "staff", "admin", "director"})

DEFAULT_MFA_AMR = frozenset({"mfa", "mca", "otp", "sms", "tel", "hwk"})
"""RFC 8176 ``amr`` values that report a second factor on their own: ``mfa`` (several
factors), ``mca`` (several channels), ``otp``, ``sms``, ``tel`` (a one-time code or call to
a phone) and ``hwk`` (a hardware key)."""

_KEY_AMR = frozenset({"swk", "sc", "pop"})
_KNOWLEDGE_AMR = frozenset({"pwd", "pin", "kba"})
_BIOMETRIC_AMR = frozenset({"fpt", "face", "iris", "retina", "vbm"})

DEFAULT_MFA_ACR = frozenset(
    {
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical",
        "https://refeds.org/profile/mfa",
    }
)
"""OIDC ``acr`` values that promise several factors (OpenID PAPE, REFEDS MFA)."""

_SAML_CLASSES = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
DEFAULT_MFA_AUTHN_CONTEXTS = frozenset(
    {
        _SAML_CLASSES + "TimeSyncToken",
        _SAML_CLASSES + "Smartcard",
        _SAML_CLASSES + "SmartcardPKI",
        _SAML_CLASSES + "MobileTwoFactorContract",
        _SAML_CLASSES + "MobileTwoFactorUnregistered",
        "https://refeds.org/profile/mfa",
        "http://schemas.microsoft.com/claims/multipleauthn",
    }
)
"""SAML ``AuthnContextClassRef`` values that stand for two factors."""


def _flags(value: Mapping[str, bool] | Iterable[str]) -> Mapping[str, bool]:
    """A mapping as given; a plain collection of names means "required" for each."""
    if isinstance(value, Mapping):
        flags = {str(k): bool(v) for k, v in value.items()}
    else:
        flags = dict.fromkeys(value, True)
    return MappingProxyType(flags)


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _as_set(value: str | Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


@attrs.frozen
class SecondFactorPolicy:
    """Who needs a second factor.

    In order, the first rule that applies decides:

    1. a federated login whose IdP reported a second factor needs none;
    2. an account with one of ``staff_roles`` always needs one;
    3. a role override for one of the account's roles (``True`` wins over ``False``);
    4. an organisation override for the account's ``org_id``;
    5. a provider override for the login's issuer (federated logins only);
    6. otherwise local logins need one when ``for_local_logins``, federated ones do not.

    Overrides are mappings to ``True`` (required) or ``False`` (not required); a plain
    set of names means ``True`` for each.
    """

    staff_roles: frozenset[str] = attrs.field(default=DEFAULT_STAFF_ROLES, converter=_names)
    for_local_logins: bool = True
    providers: Mapping[str, bool] = attrs.field(factory=dict, converter=_flags)
    organisations: Mapping[str, bool] = attrs.field(factory=dict, converter=_flags)
    roles: Mapping[str, bool] = attrs.field(factory=dict, converter=_flags)
    mfa_amr: frozenset[str] = attrs.field(default=DEFAULT_MFA_AMR, converter=_names)
    mfa_acr: frozenset[str] = attrs.field(default=DEFAULT_MFA_ACR, converter=_names)
    mfa_authn_contexts: frozenset[str] = attrs.field(
        default=DEFAULT_MFA_AUTHN_CONTEXTS, converter=_names
    )

    def requires(
        self, account: LocalAccount, *, issuer: str | None, idp_reported_mfa: bool
    ) -> bool:
        """Whether this login of ``account`` needs a second factor.

        ``issuer`` is the federated IdP, or None for a login with a local password.
        """
        if issuer is not None and idp_reported_mfa:
            return False
        if self.staff_roles.intersection(account.roles):
            return True
        by_role = [self.roles[r] for r in account.roles if r in self.roles]
        if by_role:
            return any(by_role)
        if account.org_id in self.organisations:
            return self.organisations[account.org_id]
        if issuer is None:
            return self.for_local_logins
        return self.providers.get(issuer, False)

    def idp_reported_mfa(
        self,
        *,
        amr: Iterable[str] | None = None,
        acr: str | None = None,
        authn_context: str | Iterable[str] | None = None,
    ) -> bool:
        """Whether the IdP's own report says the person passed a second factor.

        ``amr`` counts when it holds one of ``mfa_amr``, or a key (``swk``, ``sc``,
        ``pop``) together with a knowledge factor (``pwd``, ``pin``, ``kba``) or a
        biometric one (``fpt``, ``face``, ``iris``, ``retina``, ``vbm``). ``acr`` counts
        when it is one of ``mfa_acr``; a SAML ``AuthnContextClassRef`` when it is one of
        ``mfa_authn_contexts``. Only what was reported counts: absent values say nothing.
        """
        methods = _as_set(amr)
        if methods & self.mfa_amr:
            return True
        if methods & _KEY_AMR and methods & (_KNOWLEDGE_AMR | _BIOMETRIC_AMR):
            return True
        if acr is not None and acr in self.mfa_acr:
            return True
        return bool(_as_set(authn_context) & self.mfa_authn_contexts)
