"""The staff-role policy's pure parts: reading ESIA's roles list and deciding employment."""

from __future__ import annotations

import pytest

from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.roles import (
    Employer,
    EsiaOrganisation,
    StaffRolePolicy,
    employs,
    organisations_from_roles,
)

SCHOOL = {
    "oid": 1000451,
    "prnOid": 1000299654,
    "fullName": "МБОУ Школа № 1",
    "shortName": "Школа № 1",
    "ogrn": "1027700132195",
    "inn": "7707083893",
    "kpp": "773601001",
    "type": "LEGAL",
    "chief": False,
    "admin": False,
    "active": True,
}


def test_the_roles_document_is_read_into_organisations() -> None:
    found = organisations_from_roles({"stateFacts": ["hasSize"], "size": 1, "elements": [SCHOOL]})
    assert found == (
        EsiaOrganisation(
            oid="1000451",
            name="МБОУ Школа № 1",
            ogrn="1027700132195",
            inn="7707083893",
            kpp="773601001",
            active=True,
        ),
    )


def test_an_empty_roles_list_has_no_organisations() -> None:
    assert organisations_from_roles({"size": 0}) == ()


@pytest.mark.parametrize("document", [{"elements": {}}, {"elements": ["x"]}, {"elements": [{}]}])
def test_a_malformed_roles_list_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(EsiaError) as caught:
        organisations_from_roles(document)
    assert caught.value.code == "esia.roles_invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"oid": 10**30},
        {"oid": 0},
        {"oid": -5},
        {"oid": True},
        {"oid": 1.5},
        {"oid": "1e9"},
        {"oid": "٣٣"},
        {"oid": "9" * 5000},
        {"oid": {"a": 1}},
        {"ogrn": 10**25},
        {"inn": True},
        {"kpp": ["773601001"]},
        {"ogrn": "1" * 10_000},
    ],
)
def test_numbers_in_the_roles_list_are_range_checked(changes: dict[str, object]) -> None:
    with pytest.raises(EsiaError) as caught:
        organisations_from_roles({"elements": [{**SCHOOL, **changes}]})
    assert caught.value.code == "esia.roles_invalid"


def test_numbers_may_come_as_json_numbers_or_text() -> None:
    found = organisations_from_roles(
        {"elements": [{**SCHOOL, "oid": "1000451", "ogrn": 1027700132195, "inn": 7707083893}]}
    )
    assert found == organisations_from_roles({"elements": [SCHOOL]})


SCHOOL_ORG = organisations_from_roles({"elements": [SCHOOL]})[0]


def test_an_employer_matches_on_ogrn() -> None:
    assert Employer(ogrn="1027700132195").is_(SCHOOL_ORG)
    assert not Employer(ogrn="1027700132196").is_(SCHOOL_ORG)


def test_an_employer_matches_on_inn_and_kpp_together() -> None:
    assert Employer(inn="7707083893", kpp="773601001").is_(SCHOOL_ORG)
    assert not Employer(inn="7707083893", kpp="773601002").is_(SCHOOL_ORG)


def test_a_different_ogrn_is_not_overridden_by_equal_inn_and_kpp() -> None:
    employer = Employer(ogrn="1027700000000", inn="7707083893", kpp="773601001")
    assert not employer.is_(SCHOOL_ORG)


def test_an_employer_needs_ogrn_or_inn_with_kpp() -> None:
    with pytest.raises(ValueError, match="OGRN"):
        Employer(inn="7707083893")


def test_an_inactive_role_does_not_count() -> None:
    left = organisations_from_roles({"elements": [{**SCHOOL, "active": False}]})
    assert not employs(Employer(ogrn="1027700132195"), left)
    assert employs(Employer(ogrn="1027700132195"), [SCHOOL_ORG])


def test_the_policy_applies_to_staff_roles_only() -> None:
    policy = StaffRolePolicy({"school-1": Employer(ogrn="1027700132195")})
    assert policy.applies(["teacher"], "school-1")
    assert not policy.applies(["student"], "school-1")
    assert policy.applies(["admin"], "school-2")  # strict: unknown organisation is checked
    lenient = StaffRolePolicy({"school-1": Employer(ogrn="1")}, strict=False)
    assert not lenient.applies(["admin"], "school-2")


def test_the_policy_allows_only_employees_of_the_accounts_organisation() -> None:
    policy = StaffRolePolicy(
        {"school-1": Employer(ogrn="1027700132195"), "school-2": Employer(ogrn="1")}
    )
    assert policy.allows("school-1", [SCHOOL_ORG])
    assert not policy.allows("school-2", [SCHOOL_ORG])
    assert not policy.allows("school-3", [SCHOOL_ORG])
    assert not policy.allows("school-1", [])
