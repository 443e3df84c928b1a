"""Clients written elsewhere log in against the mock IdP: Authlib and PyJWT."""

from __future__ import annotations

import re
import secrets
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

with warnings.catch_warnings():
    # Authlib points to its successor package; its own JOSE code is what is tested here.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken

from mock_idp.server import RunningIdP

REDIRECT = "https://portal.test/cb"


def log_in_through_the_page(idp: RunningIdP, authorize_url: str) -> str:
    """Play the person at the login page; return the redirect back to the client."""
    with httpx.Client(follow_redirects=False) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        txn = re.search(r'name="txn" value="([^"]+)"', page.text)
        assert txn is not None
        base = idp.base_url
        browser.post(
            f"{base}/login",
            data={"txn": txn.group(1), "login": "+7 (900) 000-01-01", "password": "parol-101"},
        )
        done = browser.post(
            f"{base}/login/code", data={"txn": txn.group(1), "code": idp.idp.last_code()}
        )
        assert done.status_code == 302
        return done.headers["location"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_authlib_code_flow_with_pkce_and_id_token_check(mock_idp: RunningIdP, alg: str) -> None:
    mock_idp.idp.add_client(
        {
            "client_id": "authlib",
            "secret": "s3cret",
            "redirect_uris": [REDIRECT],
            "id_token_alg": alg,
        }
    )
    meta = httpx.get(mock_idp.base_url + "/.well-known/openid-configuration").json()
    nonce = secrets.token_urlsafe(16)
    verifier = generate_token(48)
    with OAuth2Client(
        "authlib",
        "s3cret",
        redirect_uri=REDIRECT,
        scope="openid fullname birthdate",
        code_challenge_method="S256",
    ) as client:
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        back = log_in_through_the_page(mock_idp, url)
        assert parse_qs(urlsplit(back).query)["iss"] == [meta["issuer"]]
        token = client.fetch_token(
            meta["token_endpoint"], authorization_response=back, code_verifier=verifier, state=state
        )
        keys = JsonWebKey.import_key_set(httpx.get(meta["jwks_uri"]).json())
        claims = JsonWebToken([alg]).decode(
            token["id_token"],
            keys,
            claims_options={
                "iss": {"essential": True, "value": meta["issuer"]},
                "aud": {"essential": True, "value": "authlib"},
                "nonce": {"essential": True, "value": nonce},
            },
        )
        claims.validate()
        assert claims["sub"] == "1000000101"
        info = client.get(meta["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"]


def test_pyjwt_jwks_client_verifies_tokens_and_follows_rotation(mock_idp: RunningIdP) -> None:
    mock_idp.idp.add_client(
        {"client_id": "pyjwt", "secret": "s", "redirect_uris": [REDIRECT], "require_pkce": False}
    )
    meta = httpx.get(mock_idp.base_url + "/.well-known/openid-configuration").json()
    # no refetch cooldown: the rotation below happens within seconds
    jwks = pyjwt.PyJWKClient(meta["jwks_uri"], cache_keys=False, cooldown_duration=0)

    def id_token() -> str:
        url = httpx.URL(
            meta["authorization_endpoint"],
            params={
                "client_id": "pyjwt",
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid",
                "state": "s",
                "nonce": "n",
            },
        )
        back = parse_qs(urlsplit(log_in_through_the_page(mock_idp, str(url))).query)
        response = httpx.post(
            meta["token_endpoint"],
            auth=("pyjwt", "s"),
            data={
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "redirect_uri": REDIRECT,
            },
        )
        return str(response.json()["id_token"])

    def verify(token: str) -> dict[str, object]:
        key = jwks.get_signing_key_from_jwt(token)
        return dict(
            pyjwt.decode(
                token, key.key, algorithms=["RS256"], audience="pyjwt", issuer=meta["issuer"]
            )
        )

    assert verify(id_token())["nonce"] == "n"
    new_kid = mock_idp.idp.rotate_keys()  # the next token is signed by a key published only now
    token = id_token()
    assert pyjwt.get_unverified_header(token)["kid"] == new_kid
    assert verify(token)["sub"] == "1000000101"
    mock_idp.idp.inject("bad_signature")
    token = id_token()
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(token)
