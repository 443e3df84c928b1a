"""Who needs a second factor, and when the IdP's report of one counts."""

from __future__ import annotations

import pytest

from helpers.accounts import ISSUER, make_account
from sso_bridge.mfa.policy import SecondFactorPolicy

OTHER_IDP = "https://other-idp.example/"
SAML = "urn:oasis:names:tc:SAML:2.0:ac:classes:"

STUDENT = make_account("s1", roles=("student",))
PARENT = make_account("p1", "sch2", roles=("parent",))
TEACHER = make_account("t1", roles=("teacher",))
DIRECTOR = make_account("d1", "sch2", roles=("parent", "director"))
NO_ROLES = make_account("n1", "sch3")

DEFAULT = SecondFactorPolicy()
CUSTOM = SecondFactorPolicy(
    for_local_logins=False,
    providers={OTHER_IDP: True},
    organisations={"sch2"},
    roles={"student": False, "parent": True},
)


@pytest.mark.parametrize(
    ("policy", "account", "issuer", "reported", "required"),
    [
        # staff always, by any route, unless the IdP did a second factor
        (DEFAULT, TEACHER, None, False, True),
        (DEFAULT, TEACHER, ISSUER, False, True),
        (DEFAULT, TEACHER, ISSUER, True, False),
        (DEFAULT, DIRECTOR, ISSUER, False, True),
        (CUSTOM, TEACHER, None, False, True),
        # everyone on local logins by default; nobody else on federated ones
        (DEFAULT, STUDENT, None, False, True),
        (DEFAULT, STUDENT, ISSUER, False, False),
        (DEFAULT, NO_ROLES, None, False, True),
        # a report of MFA does not excuse a local login
        (DEFAULT, STUDENT, None, True, True),
        # overrides: role before organisation before provider before the default
        (CUSTOM, STUDENT, None, False, False),
        (CUSTOM, STUDENT, OTHER_IDP, False, False),
        (CUSTOM, PARENT, ISSUER, False, True),
        (CUSTOM, PARENT, ISSUER, True, False),
        (CUSTOM, NO_ROLES, None, False, False),
        (CUSTOM, NO_ROLES, OTHER_IDP, False, True),
        (CUSTOM, NO_ROLES, ISSUER, False, False),
        (CUSTOM, make_account("x", "sch2"), ISSUER, False, True),
        (SecondFactorPolicy(organisations={"sch1": False}), STUDENT, None, False, False),
        (SecondFactorPolicy(roles={"student": True}), STUDENT, ISSUER, False, True),
        (SecondFactorPolicy(staff_roles={"admin"}), TEACHER, ISSUER, False, False),
        (SecondFactorPolicy(roles={"parent": False}), DIRECTOR, ISSUER, False, True),
    ],
)
def test_requires(
    policy: SecondFactorPolicy, account: object, issuer: str | None, reported: bool, required: bool
) -> None:
    assert policy.requires(account, issuer=issuer, idp_reported_mfa=reported) is required  # type: ignore[arg-type]


def test_roles_true_wins_over_false() -> None:
    policy = SecondFactorPolicy(roles={"parent": True, "student": False})
    both = make_account("b", roles=("student", "parent"))
    assert policy.requires(both, issuer=ISSUER, idp_reported_mfa=False)


@pytest.mark.parametrize(
    ("amr", "reported"),
    [
        (["mfa"], True),
        (["pwd", "otp"], True),
        (["sms"], True),
        (["hwk"], True),
        (["tel"], True),
        (["mca"], True),
        (["swk", "pwd"], True),
        (["sc", "pin"], True),
        (["swk", "fpt"], True),
        (["pwd"], False),
        (["swk"], False),
        (["pwd", "kba"], False),
        (["face"], False),
        ("mfa", True),
        ([], False),
        (None, False),
    ],
)
def test_amr(amr: list[str] | str | None, reported: bool) -> None:
    assert DEFAULT.idp_reported_mfa(amr=amr) is reported


def test_acr_and_saml_contexts() -> None:
    pape = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    assert DEFAULT.idp_reported_mfa(acr=pape)
    assert DEFAULT.idp_reported_mfa(acr="https://refeds.org/profile/mfa")
    assert not DEFAULT.idp_reported_mfa(acr="urn:mace:incommon:iap:silver")
    for name in ("TimeSyncToken", "Smartcard", "MobileTwoFactorContract"):
        assert DEFAULT.idp_reported_mfa(authn_context=SAML + name)
    assert DEFAULT.idp_reported_mfa(authn_context=[SAML + "Password", SAML + "SmartcardPKI"])
    assert not DEFAULT.idp_reported_mfa(authn_context=SAML + "PasswordProtectedTransport")
    assert not DEFAULT.idp_reported_mfa(authn_context=SAML + "Password")


def test_only_reported_values_count() -> None:
    assert not DEFAULT.idp_reported_mfa()
    assert not DEFAULT.idp_reported_mfa(amr=None, acr=None, authn_context=None)
    assert not DEFAULT.idp_reported_mfa(acr="")


def test_sets_are_configurable() -> None:
    esia = SecondFactorPolicy(mfa_acr={"urn:esia:loa:3"}, mfa_amr={"mfa"}, mfa_authn_contexts=[])
    assert esia.idp_reported_mfa(acr="urn:esia:loa:3")
    assert not esia.idp_reported_mfa(
        acr="http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    )
    assert not esia.idp_reported_mfa(amr=["otp"])
    assert not esia.idp_reported_mfa(authn_context=SAML + "TimeSyncToken")
