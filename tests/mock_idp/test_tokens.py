from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jose import jwk, jwt
from jose.exceptions import JWTError

from mock_idp.keys import KeyRing
from mock_idp.tokens import TokenFault, id_token_claims, sign_token
from mock_idp.users import person_from_dict
from sso_bridge.oidc.idtoken import at_hash

ISSUER = "https://idp.test/"
PERSON = person_from_dict(
    {
        "oid": 1000000101,
        "login": "m@example.org",
        "password": "p",
        "last_name": "Смирнова",
        "first_name": "Мария",
        "birth_date": "12.03.1984",
        "gender": "F",
    }
)


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing.generate()


def claims(**kw: object) -> dict[str, object]:
    base = id_token_claims(
        PERSON,
        issuer=ISSUER,
        client_id="portal",
        nonce="n-1",
        access_token="at-1",
        now=datetime.now(UTC),  # verified against the real clock: made when the test runs
        lifetime=timedelta(minutes=5),
        second_factor="sms",
    )
    base.update(kw)
    return base


def verify(token: str, ring: KeyRing, alg: str = "RS256") -> dict[str, object]:
    kid = jwt.get_unverified_header(token).get("kid")
    key = ring.get(kid) if kid else None
    if key is None:
        raise JWTError("no key for kid")
    return jwt.decode(
        token,
        key.public_jwk(),
        algorithms=[alg],
        audience="portal",
        issuer=ISSUER,
        access_token="at-1",
    )


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_correct_tokens_verify(ring: KeyRing, alg: str) -> None:
    token = sign_token(claims(), ring.active(alg))
    decoded = verify(token, ring, alg)
    assert decoded["sub"] == "1000000101"
    assert decoded["nonce"] == "n-1"
    assert decoded["at_hash"] == at_hash("at-1", alg)
    sbj = decoded["urn:esia:sbj"]
    assert isinstance(sbj, dict) and sbj["urn:esia:sbj:oid"] == PERSON.oid
    assert sbj["urn:esia:sbj:is_tru"] is True
    assert decoded["amr"] == ["pwd", "sms"]


@pytest.mark.parametrize(
    "fault",
    [
        TokenFault.BAD_SIGNATURE,
        TokenFault.UNKNOWN_KID,
        TokenFault.NO_KID,
        TokenFault.WRONG_ISS,
        TokenFault.WRONG_AUD,
        TokenFault.EXPIRED,
        TokenFault.BAD_AT_HASH,
    ],
)
def test_each_fault_breaks_verification(ring: KeyRing, fault: TokenFault) -> None:
    with pytest.raises(JWTError):
        verify(sign_token(claims(), ring.active("RS256"), {fault}), ring)


def test_claim_faults_change_only_their_claim(ring: KeyRing) -> None:
    key = ring.active("RS256")
    good = jwt.get_unverified_claims(sign_token(claims(), key))
    for fault, changed in [
        (TokenFault.WRONG_NONCE, {"nonce"}),
        (TokenFault.MISSING_IAT, {"iat"}),
        (TokenFault.MISSING_SUB, {"sub"}),
        (TokenFault.MISSING_AUD, {"aud"}),
        (TokenFault.IAT_FUTURE, {"iat", "nbf"}),
    ]:
        bad = jwt.get_unverified_claims(sign_token(claims(), key, {fault}))
        differs = {k for k in good.keys() | bad.keys() if good.get(k) != bad.get(k)}
        assert differs - {"urn:esia:sid"} == changed, fault
    future = jwt.get_unverified_claims(sign_token(claims(), key, {TokenFault.IAT_FUTURE}))
    assert future["iat"] > future["exp"]


def test_alg_none_and_hs256_with_the_public_key(ring: KeyRing) -> None:
    key = ring.active("RS256")
    none = sign_token(claims(), key, {TokenFault.ALG_NONE})
    assert none.endswith(".")
    assert jwt.get_unverified_header(none)["alg"] == "none"
    hs = sign_token(claims(), key, {TokenFault.HS256_PUBLIC_KEY})
    assert jwt.get_unverified_header(hs)["alg"] == "HS256"
    # a relying party that pins RS256 refuses both
    for token in (none, hs):
        with pytest.raises(JWTError):
            jwt.decode(token, key.public_jwk(), algorithms=["RS256"], audience="portal")


def test_jwks_publishes_valid_public_keys_and_rotation_keeps_old_ones(ring: KeyRing) -> None:
    old = ring.active("RS256")
    new = ring.rotate("RS256")
    assert new.kid != old.kid
    kids = {k["kid"] for k in ring.jwks()["keys"]}
    assert {old.kid, new.kid, ring.active("ES256").kid} <= kids
    for public in ring.jwks()["keys"]:
        assert "d" not in public  # never a private member
        jwk.construct(public)  # parses as a key
    assert verify(sign_token(claims(), old), ring)["sub"] == "1000000101"


def test_keys_persist_in_the_state_directory(tmp_path: Path) -> None:
    first = KeyRing.load_or_create(tmp_path / "keys")
    again = KeyRing.load_or_create(tmp_path / "keys")
    assert first.jwks() == again.jwks()
    assert (
        oct((tmp_path / "keys" / f"{first.active('RS256').kid}.pem").stat().st_mode & 0o777)
        == "0o600"
    )
