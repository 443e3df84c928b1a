"""ESIA's organisations API (``/rs/orgs/{oid}``) and roles completed from it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers.clock import NOW, FixedClock
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.esia.config import esia_provider_config
from sso_bridge.esia.person_api import MAX_COMPLETED_ORGANISATIONS
from sso_bridge.esia.roles import Employer, StaffRolePolicy, employs, needs_numbers
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.rp import RelyingParty, TokenSet

BASE = "https://esia.example"
_KEY = gost.generate_private_key()
_CERT = gost.self_signed_certificate(_KEY, "SCHOOL01", NOW)
PERSON = "1000299353"
TOKENS = TokenSet("access", None, subject=PERSON)
SCHOOL = {"oid": 1000000017, "fullName": "Школа № 17", "ogrn": "1027700017014"}
SCHOOL_ORG = {**SCHOOL, "shortName": "Школа 17", "inn": "7701001703", "kpp": "770101001"}
LYCEUM = {"oid": "1000000002", "shortName": "Лицей № 2", "active": True}
LYCEUM_ORG = {"oid": 1000000002, "fullName": "Лицей № 2", "inn": "7701002000", "kpp": "770101001"}


class Api:
    """ESIA's REST API: ``pages`` by path; every GET is recorded."""

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.gets: list[str] = []

    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        self.gets.append(urlsplit(url).path)
        assert headers["Authorization"] == "Bearer access"
        page = self.pages.get(urlsplit(url).path)
        if page is None:
            return HttpResponse(status=404, body=b"{}")
        return HttpResponse(status=200, body=json.dumps(page).encode())

    def post(self, url: str, *, data: Any = None, headers: Any = None) -> HttpResponse:
        raise AssertionError("no POST expected")


def relying_party(pages: dict[str, Any]) -> tuple[RelyingParty, Api]:
    config = esia_provider_config(
        BASE,
        "SCHOOL01",
        InProcessGostSigner(_KEY, _CERT),
        "https://school.example/cb",
        "openid usr_org",
        certificates=[_CERT],
    )
    api = Api(pages)
    return RelyingParty(config, api, clock=FixedClock(NOW)), api  # type: ignore[arg-type]


def roles_page(*organisations: dict[str, Any]) -> dict[str, Any]:
    return {f"/rs/prns/{PERSON}/roles": {"elements": list(organisations)}}


def test_an_organisation_is_read_from_the_orgs_api() -> None:
    rp, api = relying_party({"/rs/orgs/1000000017": {**SCHOOL_ORG, "type": "LEGAL"}})
    found = rp.esia_organisation(TOKENS, 1000000017)
    assert (found.oid, found.name, found.ogrn, found.inn, found.kpp) == (
        "1000000017",
        "Школа № 17",
        "1027700017014",
        "7701001703",
        "770101001",
    )
    assert api.gets == ["/rs/orgs/1000000017"]


@pytest.mark.parametrize(
    "document",
    [
        {"fullName": "no oid"},
        {**SCHOOL_ORG, "oid": 1000000018},  # another organisation
        {**SCHOOL_ORG, "oid": 2**63},
        {**SCHOOL_ORG, "inn": ["7701001703"]},
        {**SCHOOL_ORG, "kpp": "9" * 200},
        {**SCHOOL_ORG, "ogrn": 10**40},
        {**SCHOOL_ORG, "fullName": {"ru": "x"}},
    ],
)
def test_an_odd_organisation_document_is_refused(document: dict[str, Any]) -> None:
    rp, _ = relying_party({"/rs/orgs/1000000017": document})
    with pytest.raises(BridgeError) as caught:
        rp.esia_organisation(TOKENS, "1000000017")
    assert caught.value.code == "esia.organisation_invalid"


@pytest.mark.parametrize("oid", ["", "0", "12a", "../prns/1", str(2**63), -1])
def test_a_bad_organisation_oid_is_refused_before_any_request(oid: Any) -> None:
    rp, api = relying_party({})
    with pytest.raises(BridgeError) as caught:
        rp.esia_organisation(TOKENS, oid)
    assert caught.value.code == "esia.organisation_invalid"
    assert api.gets == []


def test_roles_without_inn_and_kpp_are_completed_when_the_registry_needs_them() -> None:
    # the roles list names the lyceum without INN/KPP, which its employer entry needs
    pages = {**roles_page(SCHOOL, LYCEUM), "/rs/orgs/1000000002": LYCEUM_ORG}
    rp, api = relying_party(pages)
    lyceum = Employer(inn="7701002000", kpp="770101001")
    plain = rp.esia_roles(TOKENS)
    assert not employs(lyceum, plain)  # the old behaviour: the teacher would be refused
    api.pages["/rs/orgs/1000000017"] = SCHOOL_ORG
    completed = rp.esia_roles(TOKENS, employers=[lyceum])
    assert employs(lyceum, completed)
    assert api.gets.count("/rs/orgs/1000000002") == 1
    # the school has an OGRN, but this registry compares on INN and KPP: it is asked too
    assert api.gets.count("/rs/orgs/1000000017") == 1
    assert completed[0].inn == "7701001703"


def test_no_orgs_request_when_nothing_is_missing() -> None:
    rp, api = relying_party(roles_page(SCHOOL))
    rp.esia_roles(TOKENS, employers=[Employer(ogrn="1027700017014")])
    assert api.gets == [f"/rs/prns/{PERSON}/roles"]


def test_an_organisation_listed_twice_is_asked_about_once() -> None:
    pages = {**roles_page(LYCEUM, LYCEUM), "/rs/orgs/1000000002": LYCEUM_ORG}
    rp, api = relying_party(pages)
    completed = rp.esia_roles(TOKENS, employers=[Employer(inn="7701002000", kpp="770101001")])
    assert [o.inn for o in completed] == ["7701002000", "7701002000"]
    assert api.gets.count("/rs/orgs/1000000002") == 1


def test_a_missing_ogrn_is_filled_and_inactive_roles_are_left_alone() -> None:
    no_ogrn = {"oid": 1000000017, "fullName": "Школа № 17"}
    retired = {**LYCEUM, "active": False}
    pages = {**roles_page(no_ogrn, retired), "/rs/orgs/1000000017": SCHOOL_ORG}
    rp, api = relying_party(pages)
    completed = rp.esia_roles(TOKENS, employers=[Employer(ogrn="1027700017014")])
    assert employs(Employer(ogrn="1027700017014"), completed)
    assert "/rs/orgs/1000000002" not in api.gets


def test_the_number_of_completed_organisations_is_bounded() -> None:
    many = [{"oid": 2000000000 + i, "fullName": f"org {i}"} for i in range(60)]
    pages: dict[str, Any] = roles_page(*many)
    for org in many:
        pages[f"/rs/orgs/{org['oid']}"] = {**org, "inn": "7701002000", "kpp": "770101001"}
    rp, api = relying_party(pages)
    completed = rp.esia_roles(TOKENS, employers=[Employer(inn="1", kpp="2")])
    assert len(api.gets) == 1 + MAX_COMPLETED_ORGANISATIONS
    assert len(completed) == 60


def test_a_failing_orgs_request_refuses() -> None:
    rp, _ = relying_party(roles_page(LYCEUM))
    with pytest.raises(BridgeError) as caught:
        rp.esia_roles(TOKENS, employers=[Employer(inn="7701002000", kpp="770101001")])
    assert caught.value.code == "oidc.bad_response"


def test_needs_numbers_follows_how_employers_compare() -> None:
    policy = StaffRolePolicy({"a": Employer(ogrn="1")})
    (school,) = rp_roles(SCHOOL)
    (lyceum,) = rp_roles(LYCEUM)
    assert not needs_numbers(school, policy.employers.values())
    assert needs_numbers(lyceum, policy.employers.values())  # no OGRN to compare
    assert needs_numbers(school, [Employer(inn="1", kpp="2")])
    assert not needs_numbers(school, [])


def rp_roles(*organisations: dict[str, Any]) -> Any:
    rp, _ = relying_party(roles_page(*organisations))
    return rp.esia_roles(TOKENS)
