"""ESIA v2/v3 in the mock IdP: GOST client secrets at v2/ac and v3/te, ESIA's error numbers,
ID tokens signed with RS256 or GOST per client, published GOST certificates, and the
organisations-and-roles API."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jose import jwt
from starlette.testclient import TestClient

from helpers.clock import NOW, FixedClock
from mock_idp.app import MockIdP, create_app
from mock_idp.esia_v2 import SKEW
from mock_idp.keys import KeyRing, certificate_pem
from mock_idp.orgs import valid_ogrn
from mock_idp.users import load_directory, person_from_dict, person_to_dict
from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.esia import gost, secret
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.esia.tokens import verify_gost_jwt

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://portal.test/esia/cb"
SCOPE = "openid fullname usr_org"
GOST = "GOST3410_2012_256"
ANNA = 1000000103  # a teacher of Школа № 17 in the sample


def new_signer(name: str = "portal") -> InProcessGostSigner:
    key = gost.generate_private_key()
    return InProcessGostSigner(key, gost.self_signed_certificate(key, name, NOW))


SIGNER = new_signer()
OTHER_SIGNER = new_signer("someone else")


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.provider.clock = FixedClock(NOW)
    for client_id, alg in (("gost-portal", GOST), ("rsa-portal", "RS256")):
        idp.add_client(
            {
                "client_id": client_id,
                "auth_method": "esia_gost",
                "certificate_pem": certificate_pem(SIGNER.certificate),
                "id_token_alg": alg,
                "redirect_uris": [REDIRECT],
                "require_pkce": False,
            }
        )
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(
        create_app(idp), base_url=BASE, follow_redirects=False, headers=idp.admin_headers
    )


def signed(
    *,
    client_id: str = "gost-portal",
    code: str | None = None,
    signer: InProcessGostSigner = SIGNER,
    timestamp: str | None = None,
    **fields: str,
) -> dict[str, str]:
    """The parameters of a v2/ac (no ``code``) or v3/te request, GOST-signed."""
    params = {
        "client_id": client_id,
        "scope": SCOPE,
        "scope_org": "",
        "timestamp": timestamp or secret.esia_timestamp(NOW),
        "state": str(uuid.uuid4()),
        "redirect_uri": REDIRECT,
    }
    params.update(fields)
    message = {k: params[k] for k in ("scope", "scope_org", "timestamp", "state", "redirect_uri")}
    params["client_secret"] = secret.client_secret(
        signer, client_id=client_id, code=code, **message
    )
    params["client_certificate_hash"] = secret.certificate_hash(SIGNER.certificate)
    if code is not None:
        params.update(code=code, grant_type="authorization_code", token_type="Bearer")
    else:
        params.update(response_type="code", access_type="online")
    return params


def token_request(http: TestClient, idp: MockIdP, client_id: str = "gost-portal", **kw: Any):  # type: ignore[no-untyped-def]
    code = idp.authorization_code(client_id, ANNA, scopes=tuple(SCOPE.split()))
    form = signed(client_id=client_id, code=code, **kw)
    return http.post("/aas/oauth2/v3/te", data=form), form


def back(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def signed_by(token: str, certificates: list[str]) -> str | None:
    """The PEM of the published certificate whose key signed ``token`` (None: none did)."""
    head, body, signature = token.split(".")
    for pem in certificates:
        certificate = gost.load_certificate(pem.encode())
        raw = base64url.decode(signature)
        if gost.verify(certificate.public_key, f"{head}.{body}".encode(), raw):
            return pem
    return None


def gost_claims(token: str, certificates: list[str]) -> dict[str, Any]:
    """The claims of a GOST-signed token, checked against the published certificates
    (ESIA's tokens name no key: each certificate is tried)."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == GOST and header["typ"] == "JWT"
    assert "kid" not in header  # an ESIA client's default
    assert signed_by(token, certificates) is not None, "the GOST signature does not verify"
    return jwt.get_unverified_claims(token)


# -- v2/ac and v3/te accept a GOST client secret --------------------------------------------


def test_login_at_v2_ac_then_v3_te_with_gost_secrets(http: TestClient, idp: MockIdP) -> None:
    page = http.get("/aas/oauth2/v2/ac", params=signed())
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    http.post(
        "/login", data={"txn": txn[1], "login": "+7 (900) 000-01-01", "password": "parol-101"}
    )
    code = back(http.post("/login/code", data={"txn": txn[1], "code": idp.last_code()}))["code"]
    form = signed(code=code)
    answer = http.post("/aas/oauth2/v3/te", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == form["state"]  # the token request's own state
    claims = gost_claims(answer.json()["id_token"], idp.certificates())
    assert claims["sub"] == "1000000101" and claims["aud"] == "gost-portal"


def test_v3_te_echoes_the_token_request_state(http: TestClient, idp: MockIdP) -> None:
    state = str(uuid.uuid4())
    answer, _ = token_request(http, idp, state=state)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == state


def test_refresh_at_v3_te_is_signed_without_a_code(http: TestClient, idp: MockIdP) -> None:
    first, _ = token_request(http, idp)
    form = signed()  # the message has no code
    form.update(grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    answer = http.post("/aas/oauth2/v3/te", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == form["state"]


@pytest.mark.parametrize("offset", [SKEW, -SKEW, timedelta(seconds=-30)])
def test_a_timestamp_within_five_minutes_passes(
    http: TestClient, idp: MockIdP, offset: timedelta
) -> None:
    answer, _ = token_request(http, idp, timestamp=secret.esia_timestamp(NOW + offset))
    assert answer.status_code == 200, answer.text


# -- refusals carry ESIA's numbers ---------------------------------------------------------

PEM_TEXT_HASH = gost.streebog256(certificate_pem(SIGNER.certificate).encode()).hex()
SHA1_HASH = hashlib.sha1(SIGNER.certificate.der, usedforsecurity=False).hexdigest()
OTHER_HASH = secret.certificate_hash(OTHER_SIGNER.certificate)


def _spoil(form: dict[str, str], change: str) -> dict[str, str]:
    """``form`` with one defect, named by ``change``."""
    spoiled = dict(form)
    if change == "no_hash":
        del spoiled["client_certificate_hash"]
    elif change == "pem_text_hash":
        spoiled["client_certificate_hash"] = PEM_TEXT_HASH
    elif change == "sha1_hash":
        spoiled["client_certificate_hash"] = SHA1_HASH
    elif change == "other_certificate_hash":
        spoiled["client_certificate_hash"] = OTHER_HASH
    elif change == "no_secret":
        del spoiled["client_secret"]
    elif change == "no_timestamp":
        del spoiled["timestamp"]
    elif change == "garbage_secret":
        spoiled["client_secret"] = "not-a-signature"
    else:  # a signed field changed after signing
        spoiled[change] = spoiled[change] + "x"
    return spoiled


REFUSALS = [
    ("no_hash", 400, "invalid_request", "ESIA-007014"),
    ("no_secret", 400, "invalid_request", "ESIA-007014"),
    ("no_timestamp", 400, "invalid_request", "ESIA-007014"),
    ("pem_text_hash", 401, "invalid_client", "ESIA-007053"),
    ("sha1_hash", 401, "invalid_client", "ESIA-007053"),
    ("other_certificate_hash", 401, "invalid_client", "ESIA-007053"),
    ("garbage_secret", 401, "invalid_client", "ESIA-007053"),
    ("scope", 401, "invalid_client", "ESIA-007053"),
    ("state", 401, "invalid_client", "ESIA-007053"),
    ("redirect_uri", 401, "invalid_client", "ESIA-007053"),
    ("scope_org", 401, "invalid_client", "ESIA-007053"),
]


@pytest.mark.parametrize(("change", "status", "error", "number"), REFUSALS)
def test_v3_te_refusals(
    http: TestClient, idp: MockIdP, change: str, status: int, error: str, number: str
) -> None:
    code = idp.authorization_code("gost-portal", ANNA, scopes=("openid",))
    answer = http.post("/aas/oauth2/v3/te", data=_spoil(signed(code=code), change))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert answer.json()["error_description"].startswith(number + ": ")


def test_v3_te_refuses_a_changed_code(http: TestClient, idp: MockIdP) -> None:
    code = idp.authorization_code("gost-portal", ANNA, scopes=("openid",))
    form = signed(code=code)
    form["code"] = idp.authorization_code("gost-portal", ANNA, scopes=("openid",))
    answer = http.post("/aas/oauth2/v3/te", data=form)
    assert answer.status_code == 401
    assert answer.json()["error_description"].startswith("ESIA-007053: ")


def test_v3_te_refuses_another_key_signature(http: TestClient, idp: MockIdP) -> None:
    answer, _ = token_request(http, idp, signer=OTHER_SIGNER)
    assert answer.status_code == 401
    assert answer.json()["error_description"].startswith("ESIA-007053: ")


@pytest.mark.parametrize(
    "timestamp",
    [
        secret.esia_timestamp(NOW - SKEW - timedelta(seconds=1)),
        secret.esia_timestamp(NOW + SKEW + timedelta(seconds=1)),
        NOW.strftime("%Y-%m-%dT%H:%M:%S"),
    ],
)
def test_v3_te_refuses_a_stale_or_malformed_timestamp(
    http: TestClient, idp: MockIdP, timestamp: str
) -> None:
    answer, _ = token_request(http, idp, timestamp=timestamp)
    assert answer.status_code == 401
    assert answer.json()["error_description"].startswith("ESIA-007015: ")


@pytest.mark.parametrize(
    ("change", "error", "number"),
    [
        ("no_hash", "invalid_request", "ESIA-007014"),
        ("pem_text_hash", "invalid_client", "ESIA-007053"),
        ("sha1_hash", "invalid_client", "ESIA-007053"),
        ("redirect_uri_signed_other", "invalid_client", "ESIA-007053"),
        ("scope", "invalid_client", "ESIA-007053"),
    ],
)
def test_v2_ac_refusals_go_back_with_state(
    http: TestClient, change: str, error: str, number: str
) -> None:
    if change == "redirect_uri_signed_other":
        params = signed(redirect_uri=REDIRECT + "/other")
        params["redirect_uri"] = REDIRECT
    else:
        params = _spoil(signed(), change)
    got = back(http.get("/aas/oauth2/v2/ac", params=params))
    assert got["error"] == error
    assert got["error_description"].startswith(number + ": ")
    assert got["state"] == params["state"]


def test_v2_ac_refuses_a_stale_timestamp(http: TestClient) -> None:
    params = signed(timestamp=secret.esia_timestamp(NOW - timedelta(minutes=6)))
    got = back(http.get("/aas/oauth2/v2/ac", params=params))
    assert got["error_description"].startswith("ESIA-007015: ")


def test_v1_clients_are_unchanged_at_v2_ac(http: TestClient, idp: MockIdP) -> None:
    idp.add_client(
        {"client_id": "v1", "secret": "s", "redirect_uris": [REDIRECT], "require_pkce": False}
    )
    params = {"client_id": "v1", "redirect_uri": REDIRECT, "response_type": "code"}
    page = http.get("/aas/oauth2/v2/ac", params={**params, "scope": "openid", "state": "s1"})
    assert page.status_code == 200, page.text


# -- tokens: RS256 or GOST per client; certificates published and rotated -------------------


def test_rs256_client_gets_an_rs256_token(http: TestClient, idp: MockIdP) -> None:
    answer, _ = token_request(http, idp, client_id="rsa-portal")
    token = answer.json()["id_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    keys = http.get("/jwks").json()
    access = answer.json()["access_token"]
    claims = jwt.decode(
        token, keys, algorithms=["RS256"], audience="rsa-portal", access_token=access
    )
    assert claims["sub"] == str(ANNA)


def test_gost_client_gets_a_gost_token_with_esia_claims(http: TestClient, idp: MockIdP) -> None:
    answer, _ = token_request(http, idp)
    published = http.get("/aas/oauth2/certificates").json()["certificates"]
    claims = gost_claims(answer.json()["id_token"], published)
    assert claims["iss"] == BASE + "/" and claims["sub"] == str(ANNA)
    assert claims["urn:esia:sbj"]["urn:esia:sbj:oid"] == ANNA
    assert "at_hash" not in claims
    # the relying party's verifier reads the mock's GOST tokens
    certificates = [gost.load_certificate(pem.encode()) for pem in published]
    assert verify_gost_jwt(answer.json()["id_token"], certificates)["sub"] == str(ANNA)


def test_a_gost_token_fault_breaks_its_signature(http: TestClient, idp: MockIdP) -> None:
    idp.inject("bad_signature")
    answer, _ = token_request(http, idp)
    with pytest.raises(AssertionError, match="does not verify"):
        gost_claims(answer.json()["id_token"], idp.certificates())


def test_certificates_published_and_rotated(http: TestClient, idp: MockIdP) -> None:
    first = http.get("/aas/oauth2/certificates").json()["certificates"]
    assert len(first) == 1
    old_token = token_request(http, idp)[0].json()["id_token"]
    new_kid = idp.rotate_keys(GOST)
    second = http.get("/aas/oauth2/certificates").json()["certificates"]
    assert second[1] == first[0]  # the current one first, then the previous
    assert secret.certificate_hash(gost.load_certificate(second[0].encode())) == new_kid
    new_token = token_request(http, idp)[0].json()["id_token"]
    assert signed_by(new_token, second) == second[0]  # the new key signs
    assert signed_by(old_token, second) == second[1]  # still verifiable during the rollover
    idp.rotate_keys(GOST)
    third = http.get("/aas/oauth2/certificates").json()["certificates"]
    assert len(third) == 2 and first[0] not in third and second[0] == third[1]


def test_gost_rotation_over_the_admin_api(http: TestClient) -> None:
    kid = http.post("/admin/rotate", json={"alg": GOST}).json()["kid"]
    current = http.get("/aas/oauth2/certificates").json()["certificates"][0]
    assert secret.certificate_hash(gost.load_certificate(current.encode())) == kid


def test_gost_keys_persist_in_the_state_directory(tmp_path: Path) -> None:
    first = KeyRing.load_or_create(tmp_path / "keys")
    first.rotate(GOST)
    first.save(tmp_path / "keys")
    again = KeyRing.load_or_create(tmp_path / "keys")
    assert again.certificates() == first.certificates()
    assert again.active_gost().kid == first.active_gost().kid


def test_gost_key_given_in_the_config() -> None:
    key = gost.generate_private_key()
    ring = KeyRing.from_config(
        [{"alg": GOST, "private_key_pem": gost.private_key_pem(key).decode()}]
    )
    assert ring.active_gost().private_key.public_key() == key.public_key()
    with pytest.raises(InvalidInput, match="not the key's"):
        KeyRing.from_config(
            [
                {
                    "alg": GOST,
                    "private_key_pem": gost.private_key_pem(key).decode(),
                    "certificate_pem": certificate_pem(SIGNER.certificate),
                }
            ]
        )


def test_a_client_without_a_certificate_gets_one(http: TestClient, idp: MockIdP) -> None:
    idp.add_client(
        {
            "client_id": "fresh",
            "auth_method": "esia_gost",
            "id_token_alg": GOST,
            "redirect_uris": [REDIRECT],
            "require_pkce": False,
        }
    )
    signer = idp.client_signer("fresh")
    code = idp.authorization_code("fresh", ANNA)
    form = signed(client_id="fresh", code=code, signer=signer)
    form["client_certificate_hash"] = secret.certificate_hash(signer.certificate)
    assert http.post("/aas/oauth2/v3/te", data=form).status_code == 200


def test_a_client_with_a_bad_certificate_is_refused(idp: MockIdP) -> None:
    with pytest.raises(ValueError, match="certificate_pem"):
        idp.add_client(
            {
                "client_id": "bad",
                "auth_method": "esia_gost",
                "certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "redirect_uris": [REDIRECT],
            }
        )


# -- the organisations-and-roles API --------------------------------------------------------


def _access(http: TestClient, idp: MockIdP, oid: int, scope: str = SCOPE) -> str:
    code = idp.authorization_code("gost-portal", oid, scopes=tuple(scope.split()))
    answer = http.post("/aas/oauth2/v3/te", data=signed(code=code, scope=scope))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def test_roles_of_a_member_of_staff(http: TestClient, idp: MockIdP) -> None:
    token = _access(http, idp, ANNA)
    doc = http.get(f"/rs/prns/{ANNA}/roles", headers={"Authorization": f"Bearer {token}"})
    assert doc.status_code == 200, doc.text
    body = doc.json()
    assert body["stateFacts"] == ["hasSize"] and body["size"] == 1
    school = body["elements"][0]
    assert school["prnOid"] == ANNA and school["type"] == "LEGAL"
    assert school["shortName"] == "Школа № 17"
    assert school["ogrn"] == "1027700017014" and valid_ogrn(school["ogrn"])
    assert "inn" not in school and "kpp" not in school  # as ESIA: those are /rs/orgs's
    assert school["chief"] is False and school["admin"] is False and school["active"] is True


def test_roles_of_someone_in_another_organisation(http: TestClient, idp: MockIdP) -> None:
    token = _access(http, idp, 1000000101)
    doc = http.get("/rs/prns/1000000101/roles", headers={"Authorization": f"Bearer {token}"})
    (org,) = doc.json()["elements"]
    assert org["shortName"] != "Школа № 17" and org["chief"] is True


def test_roles_need_a_token_the_scope_and_the_owner(http: TestClient, idp: MockIdP) -> None:
    assert http.get(f"/rs/prns/{ANNA}/roles").status_code == 401
    bearer = {"Authorization": "Bearer " + _access(http, idp, ANNA, scope="openid fullname")}
    assert http.get(f"/rs/prns/{ANNA}/roles", headers=bearer).status_code == 403
    bearer = {"Authorization": "Bearer " + _access(http, idp, 1000000101)}
    assert http.get(f"/rs/prns/{ANNA}/roles", headers=bearer).status_code == 403


def test_person_without_roles_has_an_empty_list(http: TestClient, idp: MockIdP) -> None:
    token = _access(http, idp, 1000000107)
    doc = http.get("/rs/prns/1000000107/roles", headers={"Authorization": f"Bearer {token}"})
    assert doc.json() == {"stateFacts": ["hasSize"], "size": 0, "elements": []}


def test_roles_round_trip_and_bad_numbers_are_refused() -> None:
    for person in load_directory(SAMPLE):
        assert person_from_dict(person_to_dict(person)) == person
    anna = person_to_dict(next(p for p in load_directory(SAMPLE) if p.oid == ANNA))
    for field, value in (("ogrn", "1027700017015"), ("inn", "7701001704"), ("kpp", "77")):
        bad = {**anna, "roles": [{**anna["roles"][0], field: value}]}
        with pytest.raises(InvalidInput, match=field):
            person_from_dict(bad)
