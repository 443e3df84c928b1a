"""A whole ESIA v2/v3 login against the mock IdP, GOST on both sides, and every refusal."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import pytest
from jose import jwt
from starlette.testclient import TestClient

from helpers.broker import build_world
from helpers.clock import NOW, FixedClock
from mock_idp.app import MockIdP, create_app
from mock_idp.keys import certificate_pem
from sso_bridge.broker import BrokerPolicy, OidcProvider
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.esia.config import esia_provider_config
from sso_bridge.esia.provider import EsiaProvider
from sso_bridge.esia.roles import Employer, StaffRolePolicy
from sso_bridge.esia.secret import esia_timestamp
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.idp import RedirectTo
from sso_bridge.model import IdpSession, LocalAccount
from sso_bridge.oidc import HttpResponse, HttpxClient, RelyingParty, pkce_challenge

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://school.test/esia/cb"
SCOPES = "openid fullname birthdate usr_org"
MARIA = 1000000101  # works for ООО «УЦ „Парус“», second factor by SMS
ANNA = 1000000103  # a teacher of Школа № 17 (OGRN 1027700017014)
_KEY = gost.generate_private_key()
SIGNER = InProcessGostSigner(_KEY, gost.self_signed_certificate(_KEY, "school", NOW))
_OTHER_KEY = gost.generate_private_key()
STRANGER = InProcessGostSigner(_OTHER_KEY, gost.self_signed_certificate(_OTHER_KEY, "x", NOW))


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


class Tampering:
    """An HTTP client that may change each token request and each answer on the way."""

    def __init__(
        self,
        inner: HttpxClient,
        form: Callable[[dict[str, str]], dict[str, str]] | None = None,
        answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.inner, self.form, self.answer = inner, form, answer

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        return self.inner.get(url, headers=headers)

    def post(
        self, url: str, *, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        sent = self.form(dict(data)) if self.form else dict(data)
        response = self.inner.post(url, data=sent, headers=headers)
        if self.answer is None or response.status != 200:
            return response
        body = json.dumps(self.answer(json.loads(response.body))).encode()
        return HttpResponse(status=200, headers=response.headers, body=body)


def make_rp(
    idp: MockIdP,
    http_client: Any,
    *,
    signer: InProcessGostSigner = SIGNER,
    clock: FixedClock | None = None,
    **settings: Any,
) -> RelyingParty:
    config = esia_provider_config(
        BASE,
        settings.pop("client_id", "school-gost"),
        signer,
        REDIRECT,
        SCOPES,
        issuer=idp.issuer,
        certificates_uri=BASE + "/aas/oauth2/certificates",
        **settings,
    )
    return RelyingParty(config, http_client, clock=clock or FixedClock(NOW))


def log_in_at_the_idp(http: TestClient, idp: MockIdP, url: str) -> dict[str, str]:
    """Follow the authorization URL through the mock's pages as Maria; the callback query."""
    page = http.get(url)
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    form = {"txn": txn[1], "login": "+7 (900) 000-01-01", "password": "parol-101"}
    http.post("/login", data=form)
    done = http.post("/login/code", data={"txn": txn[1], "code": idp.last_code()})
    return callback_query(done)


def callback_query(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(parse_qsl(urlsplit(location).query))


def test_a_whole_login_over_v2_ac_and_v3_te(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(idp, HttpxClient(http))
    request = rp.start()
    assert request.url.startswith(BASE + "/aas/oauth2/v2/ac?")
    result = rp.complete(log_in_at_the_idp(http, idp, request.url), request.pending)
    assert result.identity.subject == str(MARIA)
    assert result.identity.last_name == "Смирнова"
    assert jwt.get_unverified_header(result.tokens.id_token.raw)["alg"] == "GOST3410_2012_256"


def test_an_rs256_system_logs_in_too(http: TestClient, idp: MockIdP) -> None:
    register(idp, "school-rsa", "RS256")
    rp = make_rp(idp, HttpxClient(http), client_id="school-rsa", token_alg="RS256",
                 jwks_uri=BASE + "/jwks")  # fmt: skip
    request = rp.start()
    result = rp.complete(log_in_at_the_idp(http, idp, request.url), request.pending)
    assert jwt.get_unverified_header(result.tokens.id_token.raw)["alg"] == "RS256"


def code_for(idp: MockIdP, rp: RelyingParty, pending: Any, oid: int = ANNA) -> dict[str, str]:
    code = idp.authorization_code(
        rp.config.client_id,
        oid,
        redirect_uri=REDIRECT,
        code_challenge=_challenge(pending.code_verifier),
        scopes=rp.config.scopes,
    )
    return {"code": code, "state": pending.state}


def _challenge(verifier: str) -> str:
    return pkce_challenge(verifier)


def test_a_rotated_idp_certificate_is_fetched(http: TestClient, idp: MockIdP) -> None:
    clock = FixedClock(NOW)
    rp = make_rp(idp, HttpxClient(http), clock=clock)
    pending = rp.start().pending
    rp.complete(code_for(idp, rp, pending), pending)
    idp.rotate_keys("GOST3410_2012_256")
    clock.advance(timedelta(seconds=31))
    pending = rp.start().pending
    assert rp.complete(code_for(idp, rp, pending), pending).identity.subject == str(ANNA)


def test_the_esia_roles_of_the_person_are_read(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(idp, HttpxClient(http))
    pending = rp.start().pending
    tokens = rp.complete(code_for(idp, rp, pending), pending).tokens
    (school,) = rp.esia_roles(tokens)
    assert school.ogrn == "1027700017014"
    # as ESIA: the roles list has no INN and KPP; the organisation's own document has them
    bearer = {"Authorization": f"Bearer {tokens.access_token}"}
    org = http.get(f"/rs/orgs/{school.oid}", headers=bearer).json()
    assert (org["ogrn"], org["inn"], org["kpp"]) == ("1027700017014", "7701001703", "770101001")


def _sha1_hash(form: dict[str, str]) -> dict[str, str]:
    form["client_certificate_hash"] = hashlib.sha1(SIGNER.certificate.der).hexdigest()  # noqa: S324
    return form


def _pem_hash(form: dict[str, str]) -> dict[str, str]:
    pem = certificate_pem(SIGNER.certificate).encode()
    form["client_certificate_hash"] = gost.streebog256(pem).hex()
    return form


def _no_hash(form: dict[str, str]) -> dict[str, str]:
    del form["client_certificate_hash"]
    return form


def _flipped_secret(form: dict[str, str]) -> dict[str, str]:
    secret = form["client_secret"]
    form["client_secret"] = ("B" if secret[0] == "A" else "A") + secret[1:]
    return form


@pytest.mark.parametrize(
    ("change", "number", "code"),
    [
        (_no_hash, "ESIA-007014", "esia.parameter_missing"),
        (_sha1_hash, "ESIA-007053", "esia.client_secret_wrong"),
        (_pem_hash, "ESIA-007053", "esia.client_secret_wrong"),
        (_flipped_secret, "ESIA-007053", "esia.client_secret_wrong"),
    ],
)
def test_v3_te_refusals_get_esia_s_number_and_our_code(
    http: TestClient, idp: MockIdP, change: Callable[..., Any], number: str, code: str
) -> None:
    rp = make_rp(idp, Tampering(HttpxClient(http), form=change))
    pending = rp.start().pending
    with pytest.raises(BridgeError) as caught:
        rp.complete(code_for(idp, rp, pending), pending)
    assert caught.value.code == code
    assert getattr(caught.value, "description", "").startswith(number)


def test_v3_te_refuses_a_secret_by_an_unregistered_key(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(idp, HttpxClient(http), signer=STRANGER)
    pending = rp.start().pending
    with pytest.raises(BridgeError) as caught:
        rp.complete(code_for(idp, rp, pending), pending)
    assert caught.value.code == "esia.client_secret_wrong"


def test_v3_te_refuses_a_clock_ten_minutes_off(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(idp, HttpxClient(http), clock=FixedClock(NOW + timedelta(minutes=10)))
    pending = rp.start().pending
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code(code_for(idp, rp, pending)["code"], pending)
    assert caught.value.code == "esia.request_time_wrong"


def test_a_token_answer_with_another_state_is_refused(http: TestClient, idp: MockIdP) -> None:
    def swap(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "state": "00000000-0000-4000-8000-000000000000"}

    rp = make_rp(idp, Tampering(HttpxClient(http), answer=swap))
    pending = rp.start().pending
    with pytest.raises(BridgeError) as caught:
        rp.complete(code_for(idp, rp, pending), pending)
    assert caught.value.code == "esia.state_mismatch"


def _retimed(url: str, minutes: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["timestamp"] = esia_timestamp(NOW + timedelta(minutes=minutes))
    return f"{BASE}{parts.path}?{urlencode(query)}"


def _rehashed(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    del query["client_certificate_hash"]
    return f"{BASE}{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (_rehashed, "esia.parameter_missing"),
        (lambda url: _retimed(url, 10), "esia.request_time_wrong"),
    ],
)
def test_v2_ac_refusals_come_back_to_the_callback_with_our_code(
    http: TestClient, idp: MockIdP, spoil: Callable[[str], str], code: str
) -> None:
    rp = make_rp(idp, HttpxClient(http))
    request = rp.start()
    query = callback_query(http.get(spoil(request.url)))
    assert query["state"] == request.pending.state
    with pytest.raises(BridgeError) as caught:
        rp.complete(query, request.pending)
    assert caught.value.code == code


def test_v2_ac_refuses_an_unregistered_key(http: TestClient, idp: MockIdP) -> None:
    rp = make_rp(idp, HttpxClient(http), signer=STRANGER)
    request = rp.start()
    with pytest.raises(BridgeError) as caught:
        rp.complete(callback_query(http.get(request.url)), request.pending)
    assert caught.value.code == "esia.client_secret_wrong"


# -- the staff-role policy in the broker ------------------------------------------------------

STAFF = [
    LocalAccount("t-anna", "sch1", "Кузнецова", "Анна", "Сергеевна", login="kuznetsova",
                 roles=("teacher",), birth_date=date(1988, 2, 2)),
    LocalAccount("t-maria", "sch1", "Смирнова", "Мария", "Петровна", login="smirnova",
                 roles=("teacher",), birth_date=date(1984, 3, 12)),
]  # fmt: skip
POLICY = BrokerPolicy(staff=StaffRolePolicy({"sch1": Employer(ogrn="1027700017014")}))


def staff_login(tmp_path: Path, oid: int, policy: BrokerPolicy = POLICY) -> Any:
    world = build_world(tmp_path, accounts=STAFF)
    world.idp.add_client(
        {
            "client_id": "school-gost",
            "auth_method": "esia_gost",
            "certificate_pem": certificate_pem(SIGNER.certificate),
            "id_token_alg": "GOST3410_2012_256",
            "redirect_uris": [REDIRECT],
        }
    )
    world.rp = make_rp(world.idp, HttpxClient(world.http), clock=world.clock)
    broker = world.broker_like(providers=(OidcProvider("esia", world.rp),), policy=policy)
    client = world.client()
    redirect = broker.begin_federated("esia", client)
    return broker.finish("esia", world.oidc_callback(redirect, oid), client)


def test_a_teacher_esia_lists_at_the_school_gets_in(tmp_path: Path) -> None:
    result = staff_login(tmp_path, ANNA)
    assert type(result).__name__ in ("LoggedIn", "SecondFactorForm")


def test_a_teacher_esia_does_not_list_at_the_school_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BridgeError) as caught:
        staff_login(tmp_path, MARIA)
    assert caught.value.code == "broker.not_an_employee"


def test_without_the_policy_the_same_teacher_gets_in(tmp_path: Path) -> None:
    result = staff_login(tmp_path, MARIA, BrokerPolicy())
    assert type(result).__name__ in ("LoggedIn", "SecondFactorForm")


def test_a_school_missing_from_the_registry_refuses_staff_when_strict(tmp_path: Path) -> None:
    policy = BrokerPolicy(staff=StaffRolePolicy({"sch2": Employer(ogrn="1027700017014")}))
    with pytest.raises(BridgeError) as caught:
        staff_login(tmp_path, ANNA, policy)
    assert caught.value.code == "broker.not_an_employee"


def test_esia_logout_ends_the_state_portal_session(http: TestClient, idp: MockIdP) -> None:
    # the provider's logout address is ESIA's /idp/ext/Logout (client_id, redirect_url);
    # before it, the browser's ESIA session logs it in again without the password page
    back = "https://school.example/auth/logout/done/esia"
    idp.provider.clients["school-gost"] = attrs.evolve(
        idp.provider.clients["school-gost"], post_logout_redirect_uris=(back,)
    )
    rp = make_rp(idp, HttpxClient(http))
    provider = EsiaProvider("esia", rp, post_logout_redirect_uri=back)
    log_in_at_the_idp(http, idp, rp.start().url)
    again = http.get(rp.start().url)
    assert again.status_code == 302 and again.headers["location"].startswith(REDIRECT)
    started = provider.start_logout(IdpSession("esia"), now=NOW)
    assert isinstance(started.go, RedirectTo)
    assert started.go.url.startswith(BASE + "/idp/ext/Logout?")
    out = http.get(started.go.url)
    assert out.status_code in (302, 303), out.text
    assert out.headers["location"] == back
    page = http.get(rp.start().url)  # the password page again: the session is over
    assert page.status_code == 200
    assert 'name="password"' in page.text
