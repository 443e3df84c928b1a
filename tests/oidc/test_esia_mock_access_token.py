"""Whole ESIA logins against the mock IdP in-process, as real ESIA clients do them: scopes
without ``openid`` (no ID token: the access token names the person), the certificates from
the published zip archive, the uppercase certificate hash, roles completed from
``/rs/orgs``."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from jose import jwt
from starlette.testclient import TestClient

from helpers.broker import build_world
from helpers.clock import NOW, FixedClock
from mock_idp.app import MockIdP, create_app
from mock_idp.keys import certificate_pem
from sso_bridge.broker import BrokerPolicy, OidcProvider
from sso_bridge.esia import gost
from sso_bridge.esia.config import esia_provider_config
from sso_bridge.esia.roles import Employer, StaffRolePolicy
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.model import LocalAccount
from sso_bridge.oidc import HttpxClient, RelyingParty

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://school.test/esia/cb"
NO_OPENID = "fullname birthdate snils"
MARIA = 1000000101
ANNA = 1000000103
_KEY = gost.generate_private_key()
SIGNER = InProcessGostSigner(_KEY, gost.self_signed_certificate(_KEY, "school", NOW))


def register(idp: MockIdP, client_id: str = "school-gost", alg: str = "GOST3410_2012_256") -> None:
    idp.add_client(
        {
            "client_id": client_id,
            "auth_method": "esia_gost",
            "certificate_pem": certificate_pem(SIGNER.certificate),
            "id_token_alg": alg,
            "redirect_uris": [REDIRECT],
        }
    )


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.provider.clock = FixedClock(NOW)
    register(idp)
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False)


def make_rp(
    http_client: Any, idp: MockIdP, scopes: str = NO_OPENID, **settings: Any
) -> RelyingParty:
    clock = settings.pop("clock", None) or FixedClock(NOW)
    settings.setdefault("certificates_uri", BASE + "/aas/oauth2/certificates.zip")
    config = esia_provider_config(
        BASE,
        settings.pop("client_id", "school-gost"),
        SIGNER,
        REDIRECT,
        scopes,
        issuer=idp.issuer,
        **settings,
    )
    return RelyingParty(config, http_client, clock=clock)


def log_in(http: TestClient, idp: MockIdP, url: str) -> dict[str, str]:
    """Maria logs in at the mock's pages; the callback's query."""
    page = http.get(url)
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    form = {"txn": txn[1], "login": "+7 (900) 000-01-01", "password": "parol-101"}
    http.post("/login", data=form)
    done = http.post("/login/code", data={"txn": txn[1], "code": idp.last_code()})
    assert done.status_code == 302, done.text
    location = done.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(parse_qsl(urlsplit(location).query))


def test_a_login_without_openid_is_identified_by_the_access_token(
    http: TestClient, idp: MockIdP
) -> None:
    rp = make_rp(HttpxClient(http), idp)
    request = rp.start()
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query["scope"] == NO_OPENID
    assert query["client_certificate_hash"].isupper()  # and the mock accepts it
    result = rp.complete(log_in(http, idp, request.url), request.pending)
    assert result.tokens.id_token is None
    assert result.tokens.subject == str(MARIA)
    assert result.identity.subject == str(MARIA)
    assert result.identity.last_name == "Смирнова"
    header = jwt.get_unverified_header(result.tokens.access_token)
    assert (header["alg"], header.get("sbt")) == ("GOST3410_2012_256", "access")
    assert "kid" not in header


def test_with_openid_both_tokens_name_the_same_person(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(HttpxClient(http), idp, scopes="openid " + NO_OPENID)
    request = rp.start()
    result = rp.complete(log_in(http, idp, request.url), request.pending)
    assert result.tokens.id_token is not None
    assert result.tokens.subject == result.tokens.id_token.subject == str(MARIA)


def test_an_rs256_system_runs_from_the_published_archive(http: TestClient, idp: MockIdP) -> None:
    register(idp, "school-rsa", "RS256")
    rp = make_rp(HttpxClient(http), idp, client_id="school-rsa", token_alg="RS256")
    assert rp.config.esia_keys_from_certificates
    request = rp.start()
    result = rp.complete(log_in(http, idp, request.url), request.pending)
    assert jwt.get_unverified_header(result.tokens.access_token)["alg"] == "RS256"
    assert result.tokens.subject == str(MARIA)


STAFF = [
    LocalAccount("t-anna", "sch1", "Кузнецова", "Анна", "Сергеевна", login="kuznetsova",
                 roles=("teacher",), birth_date=date(1988, 2, 2)),
]  # fmt: skip


def test_a_teacher_is_confirmed_by_inn_and_kpp_from_the_orgs_api(tmp_path: Path) -> None:
    """The mock's roles list has no INN/KPP; the registry knows the school by them only."""
    policy = BrokerPolicy(
        staff=StaffRolePolicy({"sch1": Employer(inn="7701001703", kpp="770101001")})
    )
    world = build_world(tmp_path, accounts=STAFF)
    register(world.idp)
    world.rp = make_rp(
        HttpxClient(world.http), world.idp, scopes=NO_OPENID + " usr_org", clock=world.clock
    )
    broker = world.broker_like(providers=(OidcProvider("esia", world.rp),), policy=policy)
    client = world.client()
    redirect = broker.begin_federated("esia", client)
    result = broker.finish("esia", world.oidc_callback(redirect, ANNA), client)
    assert type(result).__name__ in ("LoggedIn", "SecondFactorForm")
