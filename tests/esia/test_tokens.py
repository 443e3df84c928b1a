"""GOST-signed JWTs: signing, verifying, the pinned algorithm and certificate rotation."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from helpers.clock import NOW, FixedClock
from sso_bridge import base64url
from sso_bridge.esia import gost
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.tokens import (
    certificate_kid,
    gost_signature_valid,
    sign_gost_jwt,
    verify_gost_jwt,
)
from sso_bridge.oidc.errors import IdTokenError, OidcError
from sso_bridge.oidc.http import HttpResponse

KEY = gost.generate_private_key()
CERTIFICATE = gost.self_signed_certificate(KEY, "ESIA test", NOW)
OTHER_KEY = gost.generate_private_key()
OTHER = gost.self_signed_certificate(OTHER_KEY, "ESIA next", NOW)
CLAIMS = {"iss": "http://esia.example/", "sub": "1000299654", "aud": "SCHOOL01"}


def test_a_signed_token_verifies_and_gives_its_claims() -> None:
    token = sign_gost_jwt(CLAIMS, KEY, certificate_kid(CERTIFICATE))
    assert verify_gost_jwt(token, [CERTIFICATE]) == CLAIMS


def test_the_header_names_the_gost_algorithm_and_the_certificate() -> None:
    token = sign_gost_jwt(CLAIMS, KEY, certificate_kid(CERTIFICATE))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "GOST3410_2012_256"
    assert header["kid"] == gost.streebog256(CERTIFICATE.der).hex()


def test_the_signature_is_over_the_ascii_header_and_payload() -> None:
    token = sign_gost_jwt(CLAIMS, KEY, None)
    head, payload, signature = token.split(".")
    raw = base64url.decode(signature)
    assert len(raw) == 64
    assert gost.verify(CERTIFICATE.public_key, f"{head}.{payload}".encode("ascii"), raw)


def _tampered(token: str) -> str:
    head, _, signature = token.split(".")
    changed = base64url.encode(b'{"iss":"http://esia.example/","sub":"1","aud":"SCHOOL01"}')
    return f"{head}.{changed}.{signature}"


def test_a_tampered_payload_is_refused() -> None:
    token = sign_gost_jwt(CLAIMS, KEY, None)
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(_tampered(token), [CERTIFICATE])
    assert caught.value.code == "oidc.bad_signature"


def test_a_flipped_signature_bit_is_refused() -> None:
    head, payload, signature = sign_gost_jwt(CLAIMS, KEY, None).split(".")
    raw = bytearray(base64url.decode(signature))
    raw[10] ^= 1
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(f"{head}.{payload}.{base64url.encode(bytes(raw))}", [CERTIFICATE])
    assert caught.value.code == "oidc.bad_signature"


def test_another_certificate_does_not_verify() -> None:
    token = sign_gost_jwt(CLAIMS, KEY, None)
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(token, [OTHER])
    assert caught.value.code == "oidc.bad_signature"


def test_an_rs256_token_is_refused_as_the_wrong_algorithm() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(CLAIMS, rsa_key, algorithm="RS256")
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(token, [CERTIFICATE])
    assert caught.value.code == "oidc.alg_not_allowed"


def test_a_gost_signature_under_another_alg_name_is_refused() -> None:
    _head, payload, signature = sign_gost_jwt(CLAIMS, KEY, None).split(".")
    renamed = base64url.encode(b'{"alg":"GOST3410_2012_512","typ":"JWT"}')
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(f"{renamed}.{payload}.{signature}", [CERTIFICATE])
    assert caught.value.code == "oidc.alg_not_allowed"


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.AA", "ЖЖ.e30.AA"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(IdTokenError) as caught:
        verify_gost_jwt(token, [CERTIFICATE])
    assert caught.value.code in ("oidc.malformed_token", "oidc.alg_not_allowed")


def test_the_kid_certificate_is_tried_and_without_kid_every_certificate() -> None:
    token = sign_gost_jwt(CLAIMS, OTHER_KEY, None)
    assert verify_gost_jwt(token, [CERTIFICATE, OTHER]) == CLAIMS
    head, payload, signature = token.split(".")
    signing_input = f"{head}.{payload}".encode("ascii")
    raw = base64url.decode(signature)
    assert gost_signature_valid(signing_input, raw, [CERTIFICATE, OTHER], certificate_kid(OTHER))
    assert not gost_signature_valid(signing_input, raw, [CERTIFICATE], certificate_kid(OTHER))
    assert not gost_signature_valid(signing_input, raw[:63], [OTHER])


class _Http:
    """Serves a certificate list that the test changes, and counts the fetches."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.fetches = 0

    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        self.fetches += 1
        if isinstance(self.body, int):
            return HttpResponse(status=self.body)
        return HttpResponse(status=200, body=json.dumps(self.body).encode())

    def post(self, url: str, *, data: Any = None, headers: Any = None) -> HttpResponse:
        raise AssertionError("no POST expected")


def _pem(certificate: gost.GostCertificate) -> str:
    body = base64.b64encode(certificate.der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def _parts(token: str) -> tuple[bytes, bytes, str | None]:
    head, payload, signature = token.split(".")
    kid = jwt.get_unverified_header(token).get("kid")
    return f"{head}.{payload}".encode("ascii"), base64url.decode(signature), kid


def test_the_keyring_picks_up_a_rotated_certificate_from_the_published_list() -> None:
    http = _Http({"certificates": [_pem(CERTIFICATE)]})
    clock = FixedClock(NOW)
    keyring = GostKeyring(
        certificates_uri="http://esia.example/aas/oauth2/certificates", http=http, clock=clock
    )
    old = _parts(sign_gost_jwt(CLAIMS, KEY, certificate_kid(CERTIFICATE)))
    assert keyring.key(old[2], "GOST3410_2012_256").verify(old[0], old[1])
    assert http.fetches == 1
    http.body = [_pem(CERTIFICATE), _pem(OTHER)]  # ESIA rotates: a new key signs from now on
    new = _parts(sign_gost_jwt(CLAIMS, OTHER_KEY, certificate_kid(OTHER)))
    clock.advance(timedelta(seconds=31))
    assert keyring.key(new[2], "GOST3410_2012_256").verify(new[0], new[1])
    assert http.fetches == 2
    assert keyring.key(old[2], "GOST3410_2012_256").verify(old[0], old[1])
    assert http.fetches == 2


def test_the_keyring_refetches_at_most_once_per_interval() -> None:
    http = _Http([_pem(CERTIFICATE)])
    keyring = GostKeyring(
        certificates_uri="http://esia.example/c", http=http, clock=FixedClock(NOW)
    )
    stranger = _parts(sign_gost_jwt(CLAIMS, OTHER_KEY, None))
    assert not keyring.verify(stranger[0], stranger[1], None)
    assert not keyring.verify(stranger[0], stranger[1], None)
    assert http.fetches == 1


def test_a_pinned_keyring_without_uri_never_fetches() -> None:
    keyring = GostKeyring([CERTIFICATE])
    good = _parts(sign_gost_jwt(CLAIMS, KEY, None))
    assert keyring.key(None, "GOST3410_2012_256").verify(good[0], good[1])
    with pytest.raises(IdTokenError) as caught:
        keyring.key(None, "RS256")
    assert caught.value.code == "oidc.key_alg_mismatch"


def test_a_broken_certificate_list_is_an_error() -> None:
    keyring = GostKeyring(certificates_uri="http://x/c", http=_Http(503), clock=FixedClock(NOW))
    with pytest.raises(OidcError) as caught:
        keyring.certificates()
    assert caught.value.code == "oidc.jwks_invalid"
    keyring = GostKeyring(certificates_uri="http://x/c", http=_Http({"x": 1}))
    with pytest.raises(OidcError):
        keyring.refresh()
