"""ESIA logins without an ID token: the access token names the person; the hash's case;
kid-less RS256 tokens against several keys; RS256 keys from ESIA's certificate files."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from helpers.clock import NOW, FixedClock
from helpers.keys import self_signed
from sso_bridge import base64url
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.esia import gost
from sso_bridge.esia.config import esia_provider_config
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.secret import certificate_hash
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.esia.tokens import certificate_kid, sign_gost_jwt
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.flow import authorization_request
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.keys import JwksCache
from sso_bridge.oidc.rp import RelyingParty, TokenSet

BASE = "https://esia.example"
ISSUER = "http://esia.example/"
REDIRECT = "https://school.example/cb"
CLIENT_KEY = gost.generate_private_key()
CLIENT_CERT = gost.self_signed_certificate(CLIENT_KEY, "SCHOOL01", NOW)
SIGNER = InProcessGostSigner(CLIENT_KEY, CLIENT_CERT)
IDP_KEY = gost.generate_private_key()
IDP_CERT = gost.self_signed_certificate(IDP_KEY, "ESIA", NOW)
OID = 1000299353
NO_OPENID = "fullname birthdate snils"
T = int(NOW.timestamp())


def config(scopes: str = NO_OPENID, **changes: Any) -> ProviderConfig:
    settings: dict[str, Any] = {"certificates": [IDP_CERT]}
    settings.update(changes)
    return esia_provider_config(BASE, "SCHOOL01", SIGNER, REDIRECT, scopes, **settings)


def access_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "client_id": "SCHOOL01",
        "urn:esia:sbj_id": OID,
        "urn:esia:sid": "f4d1a5a0-0000-4000-8000-000000000001",
        "scope": f"fullname?oid={OID} birthdate?oid={OID} snils?oid={OID}",
        "iat": T,
        "nbf": T,
        "exp": T + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def gost_jwt(claims: dict[str, Any], key: gost.GostPrivateKey = IDP_KEY, **header: Any) -> str:
    """A GOST JWT with ESIA's access-token header (no kid)."""
    head = {"alg": "GOST3410_2012_256", "typ": "JWT", "sbt": "access", "ver": 1, **header}

    def segment(data: dict[str, Any]) -> str:
        return base64url.encode(json.dumps(data, separators=(",", ":")).encode())

    signing_input = f"{segment(head)}.{segment(claims)}"
    return f"{signing_input}.{base64url.encode(gost.sign(key, signing_input.encode()))}"


class FakeEsia:
    """The token endpoint answers ``body`` (echoing the state); GETs answer from ``pages``."""

    def __init__(self, body: dict[str, Any] | None = None) -> None:
        self.body = body or {}
        self.pages: dict[str, Any] = {}
        self.gets: list[str] = []
        self.forms: list[dict[str, str]] = []

    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        self.gets.append(url)
        path = urlsplit(url).path
        if path not in self.pages:
            return HttpResponse(status=404, body=b"{}")
        page = self.pages[path]
        return HttpResponse(
            status=200, body=page if isinstance(page, bytes) else json.dumps(page).encode()
        )

    def post(self, url: str, *, data: Any = None, headers: Any = None) -> HttpResponse:
        self.forms.append(dict(data))
        body = {"token_type": "Bearer", "state": data["state"], **self.body}
        return HttpResponse(status=200, body=json.dumps(body).encode())


def exchange(http: FakeEsia, made: ProviderConfig | None = None, **rp_options: Any) -> TokenSet:
    rp = RelyingParty(made or config(), http, clock=FixedClock(NOW), **rp_options)  # type: ignore[arg-type]
    return rp.exchange_code("CODE-1", rp.start().pending)


def refusal(http: FakeEsia, made: ProviderConfig | None = None) -> str:
    with pytest.raises(BridgeError) as caught:
        exchange(http, made)
    assert "\n" not in caught.value.message
    return caught.value.code


# -- configuration ------------------------------------------------------------------------


def test_an_esia_configuration_may_leave_out_openid() -> None:
    made = config()
    assert made.scopes == ("fullname", "birthdate", "snils")
    assert not made.id_token_expected
    assert "scope=fullname+birthdate+snils" in authorization_request(made, NOW).url


@pytest.mark.parametrize(
    "make",
    [
        lambda: config(esia_person_api=None),
        lambda: ProviderConfig(
            issuer=ISSUER,
            authorization_endpoint=BASE + "/a",
            token_endpoint=BASE + "/t",
            jwks_uri=BASE + "/j",
            client_id="c",
            redirect_uri=REDIRECT,
            client_secret="s",
            scopes=("profile",),
        ),
        lambda: config(scopes=""),
    ],
    ids=["esia-without-person-api", "not-esia", "no-scopes"],
)
def test_leaving_out_openid_is_refused_elsewhere(make: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert caught.value.code == "oidc.config_invalid"


# -- the certificate hash -----------------------------------------------------------------


def _sent_hash(made: ProviderConfig) -> str:
    return dict(parse_qsl(urlsplit(authorization_request(made, NOW).url).query))[
        "client_certificate_hash"
    ]


def test_the_certificate_hash_is_sent_in_uppercase_by_default() -> None:
    sent = _sent_hash(config())
    assert sent == certificate_hash(CLIENT_CERT).upper()
    assert sent.isupper() and len(sent) == 64
    http = FakeEsia({"access_token": gost_jwt(access_claims())})
    exchange(http)
    assert http.forms[0]["client_certificate_hash"] == sent


def test_the_certificate_hash_case_is_configurable() -> None:
    assert _sent_hash(config(certificate_hash_case="lower")) == certificate_hash(CLIENT_CERT)
    with pytest.raises(ConfigError) as caught:
        config(certificate_hash_case="mixed")
    assert caught.value.code == "oidc.config_invalid"


def test_kids_are_compared_whatever_their_case() -> None:
    kid = certificate_kid(IDP_CERT).upper()
    claims = {"iss": ISSUER, "sub": str(OID), "aud": "SCHOOL01", "exp": T + 60, "iat": T}
    http = FakeEsia({"access_token": "opaque", "id_token": sign_gost_jwt(claims, IDP_KEY, kid)})
    assert exchange(http, config("openid fullname")).subject == str(OID)


# -- the access token as the proof ---------------------------------------------------------


def test_without_openid_the_access_token_names_the_person() -> None:
    http = FakeEsia({"access_token": gost_jwt(access_claims())})
    tokens = exchange(http)
    assert tokens.id_token is None
    assert tokens.subject == str(OID)


def test_the_person_api_is_asked_about_the_access_token_s_subject() -> None:
    http = FakeEsia({"access_token": gost_jwt(access_claims())})
    http.pages[f"/rs/prns/{OID}"] = {"lastName": "Смирнова", "trusted": True}
    rp = RelyingParty(config(), http, clock=FixedClock(NOW))  # type: ignore[arg-type]
    tokens = rp.exchange_code("CODE-1", rp.start().pending)
    identity = rp.identity(tokens)
    assert (identity.subject, identity.last_name) == (str(OID), "Смирнова")


def test_a_digit_string_subject_is_accepted() -> None:
    http = FakeEsia({"access_token": gost_jwt(access_claims(**{"urn:esia:sbj_id": "42"}))})
    assert exchange(http).subject == "42"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "http://evil.example/"}, "esia.access_token_invalid"),
        ({"client_id": "OTHER"}, "esia.access_token_invalid"),
        ({"client_id": None}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": None}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": 0}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": 2**63}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": "0123"}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": "12a"}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": True}, "esia.access_token_invalid"),
        ({"urn:esia:sbj_id": 1.5}, "esia.access_token_invalid"),
        ({"exp": None}, "esia.access_token_invalid"),
        ({"iat": None}, "esia.access_token_invalid"),
        ({"exp": "soon"}, "esia.access_token_invalid"),
        ({"exp": T - 61}, "esia.access_token_expired"),
        ({"iat": T + 61}, "esia.access_token_expired"),
        ({"nbf": T + 61}, "esia.access_token_expired"),
    ],
)
def test_a_wrong_access_token_claim_is_refused(changes: dict[str, Any], code: str) -> None:
    assert refusal(FakeEsia({"access_token": gost_jwt(access_claims(**changes))})) == code


def test_the_skew_is_allowed_exactly() -> None:
    claims = access_claims(exp=T - 60, iat=T + 60, nbf=T + 60)
    assert exchange(FakeEsia({"access_token": gost_jwt(claims)})).subject == str(OID)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("opaque-access-token", "esia.access_token_invalid"),
        (gost_jwt(access_claims(), sbt="id"), "esia.access_token_invalid"),
        (gost_jwt(access_claims(), typ="at+jwt"), "esia.access_token_invalid"),
        (gost_jwt(access_claims(), gost.generate_private_key()), "esia.access_token_bad_signature"),
        (
            str(
                jwt.encode(
                    access_claims(),
                    rsa.generate_private_key(public_exponent=65537, key_size=2048),
                    algorithm="RS256",
                )
            ),
            "esia.access_token_invalid",  # not the pinned algorithm
        ),
    ],
    ids=["opaque", "sbt-id", "typ", "another-key", "rs256"],
)
def test_an_access_token_that_does_not_check_out_is_refused(token: str, code: str) -> None:
    assert refusal(FakeEsia({"access_token": token})) == code


def test_an_oversized_gost_access_token_is_refused_before_it_is_hashed(hashed: list[int]) -> None:
    token = gost_jwt(access_claims(padding="x" * 4096))
    hashed.clear()
    assert refusal(FakeEsia({"access_token": token})) == "esia.access_token_invalid"
    assert max(hashed) < 1024  # the client secrets were hashed, the token never


def test_with_openid_an_answer_without_id_token_is_still_refused() -> None:
    http = FakeEsia({"access_token": gost_jwt(access_claims())})
    assert refusal(http, config("openid fullname")) == "oidc.token_error"


def _id_token(sub: str) -> str:
    claims = {"iss": ISSUER, "sub": sub, "aud": "SCHOOL01", "exp": T + 60, "iat": T}
    return sign_gost_jwt(claims, IDP_KEY, None)


def test_both_tokens_must_name_the_same_person() -> None:
    access = gost_jwt(access_claims())
    http = FakeEsia({"access_token": access, "id_token": _id_token("1000000001")})
    assert refusal(http, config("openid fullname")) == "esia.subject_mismatch"
    http = FakeEsia({"access_token": access, "id_token": _id_token(str(OID))})
    tokens = exchange(http, config("openid fullname"))
    assert tokens.id_token is not None
    assert tokens.subject == str(OID)


def test_an_id_token_is_used_when_it_comes_without_openid_asked() -> None:
    http = FakeEsia({"access_token": "opaque", "id_token": _id_token(str(OID))})
    tokens = exchange(http)
    assert tokens.id_token is not None and tokens.subject == str(OID)


# -- RS256: kid-less tokens, several keys, keys from certificate files ------------------------

RSA_KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def _jwks(keys: list[rsa.RSAPrivateKey]) -> dict[str, Any]:
    return {"keys": [jwk.RSAKey(k.public_key(), "RS256").to_dict() for k in keys]}


def test_a_kidless_rs256_token_is_checked_against_each_esia_key() -> None:
    access = str(jwt.encode(access_claims(), RSA_KEYS[2], algorithm="RS256"))
    http = FakeEsia({"access_token": access})
    http.pages["/jwks"] = _jwks(RSA_KEYS)
    made = config(token_alg="RS256", certificates=(), jwks_uri=BASE + "/jwks")
    assert not made.esia_keys_from_certificates
    assert exchange(http, made).subject == str(OID)


def test_generic_oidc_keeps_refusing_a_kidless_token_when_several_keys_fit() -> None:
    http = FakeEsia()
    http.pages["/jwks"] = _jwks(RSA_KEYS)
    cache = JwksCache(http, BASE + "/jwks", ["RS256"])  # type: ignore[arg-type]
    with pytest.raises(BridgeError) as caught:
        cache.key(None, "RS256")
    assert caught.value.code == "oidc.kid_ambiguous"


def test_a_rotated_rs256_key_is_fetched_for_a_kidless_token() -> None:
    http = FakeEsia()
    http.pages["/jwks"] = _jwks(RSA_KEYS[:2])
    clock = FixedClock(NOW)
    cache = JwksCache(http, BASE + "/jwks", ["RS256"], clock=clock, try_each_without_kid=True)  # type: ignore[arg-type]
    head, payload, signature = str(jwt.encode({"a": 1}, RSA_KEYS[2], algorithm="RS256")).split(".")
    parts = (f"{head}.{payload}".encode(), base64url.decode(signature))
    assert not cache.key(None, "RS256").verify(*parts)
    http.pages["/jwks"] = _jwks(RSA_KEYS)
    assert not cache.key(None, "RS256").verify(*parts)  # at most one fetch per interval
    clock.advance(timedelta(seconds=31))
    assert cache.key(None, "RS256").verify(*parts)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as made:
        for name, content in files.items():
            made.writestr(name, content)
    return buffer.getvalue()


def test_an_rs256_system_runs_from_esia_s_archive_file(tmp_path: Path) -> None:
    pems = {f"esia{i}.pem": self_signed(k, f"ESIA {i}", NOW)[1] for i, k in enumerate(RSA_KEYS)}
    (tmp_path / "esia.zip").write_bytes(_zip(pems))
    made = config(token_alg="RS256", certificates=[tmp_path / "esia.zip"])
    assert made.esia_keys_from_certificates and len(made.rsa_certificates) == 3
    access = str(jwt.encode(access_claims(), RSA_KEYS[1], algorithm="RS256"))
    http = FakeEsia({"access_token": access})
    assert exchange(http, made).subject == str(OID)
    assert http.gets == []  # no JWKS, no archive fetched


def test_an_rs256_system_reads_the_published_archive_by_default() -> None:
    made = config(token_alg="RS256", certificates=())
    assert made.certificates_uri == BASE + "/aas/oauth2/certificates.zip"
    assert made.jwks_uri == made.certificates_uri and made.esia_keys_from_certificates
    pems = {"a.cer": self_signed(RSA_KEYS[0], "ESIA", NOW)[1]}
    http = FakeEsia(
        {"access_token": str(jwt.encode(access_claims(), RSA_KEYS[0], algorithm="RS256"))}
    )
    http.pages["/aas/oauth2/certificates.zip"] = _zip(pems)
    assert exchange(http, made).subject == str(OID)
    assert http.gets == [BASE + "/aas/oauth2/certificates.zip"]


def test_user_supplied_locations_win() -> None:
    made = config(token_alg="RS256", certificates=(), jwks_uri=BASE + "/jwks")
    assert (made.jwks_uri, made.certificates_uri) == (BASE + "/jwks", None)
    made = config(certificates_uri=BASE + "/mine.zip")
    assert made.certificates_uri == made.jwks_uri == BASE + "/mine.zip"


def test_gost_keys_can_be_given_as_an_archive_path(tmp_path: Path) -> None:
    (tmp_path / "esia.zip").write_bytes(_zip({"esia.cer": IDP_CERT.der}))
    made = config(certificates=[tmp_path / "esia.zip"])
    assert made.gost_certificates == (IDP_CERT,)
    assert exchange(FakeEsia({"access_token": gost_jwt(access_claims())}), made).subject


def test_a_kidless_gost_token_is_hashed_once_against_several_certificates(
    hashed: list[int],
) -> None:
    others = [gost.self_signed_certificate(gost.generate_private_key(), "x", NOW) for _ in range(4)]
    for certificate in [*others, IDP_CERT]:
        certificate_hash(certificate)
    token = gost_jwt(access_claims())
    keyring = GostKeyring([*others, IDP_CERT])
    hashed.clear()
    assert exchange(FakeEsia({"access_token": token}), gost_keys=keyring).subject == str(OID)
    signing_input = token.rsplit(".", 1)[0]
    assert hashed.count(len(signing_input)) == 1  # besides the client secrets' messages
    assert all(length < len(signing_input) for length in hashed if length != len(signing_input))


def test_a_token_set_without_id_token_needs_a_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        TokenSet(access_token="a", id_token=None)
    assert attrs.evolve(TokenSet("a", None, subject="5")).subject == "5"
