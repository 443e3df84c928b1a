"""A client written only from ESIA's published description logs in against the mock IdP.

The client side uses nothing of this project: ``httpx``, the standard library and the
``openssl`` program with the gost engine, which makes the key, the self-signed certificate,
its Streebog-256 hash, every ``client_secret`` and checks the access token's signature
against the IdP's certificates archive. The flow is ESIA's v2/v3 one: ``v2/ac`` without
PKCE and without ``openid``, the login pages as a browser sees them, ``v3/te``, the oid
from the access token's ``urn:esia:sbj_id``, the person from ``/rs/prns/{oid}``. Only the
IdP side (registering the client, the SMS outbox, the directory's record) uses the mock.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from helpers.openssl_gost import openssl_gost, openssl_gost_or_skip, run_openssl
from mock_idp.server import RunningIdP

CLIENT_ID = "raw-esia-client"
REDIRECT_URI = "https://school.example/esia/callback"
SCOPE = "fullname birthdate snils"
LOGIN, PASSWORD = "+7 (900) 000-01-01", "parol-101"  # a confirmed person with an SMS code
GOST_ALG = "GOST3410_2012_256"
AC_PATH, TE_PATH = "/aas/oauth2/v2/ac", "/aas/oauth2/v3/te"
REPLAY_REFUSAL = "ESIA-007003"  # ESIA: a parameter missing, wrong or repeated


def _openssl(*args: str | Path, data: bytes | None = None) -> bytes:
    binary = openssl_gost()
    assert binary is not None
    return run_openssl(binary, *args, data=data)


@dataclass(frozen=True)
class ClientKeys:
    """The client's GOST key and certificate, all made by openssl."""

    key: Path
    certificate_pem: str
    certificate_hash: str  # Streebog-256 of the DER, uppercase hex as ESIA's examples send it

    def secret(self, *fields: str) -> str:
        """``client_secret``: base64url of the raw GOST signature over the fields joined."""
        message = "".join(fields).encode("utf-8")
        raw = _openssl("dgst", "-engine", "gost", "-md_gost12_256", "-sign", self.key,
                       "-binary", data=message)  # fmt: skip
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> ClientKeys:
    openssl_gost_or_skip()
    folder = tmp_path_factory.mktemp("raw-esia-client")
    key, pem, der = folder / "key.pem", folder / "cert.pem", folder / "cert.der"
    _openssl("genpkey", "-engine", "gost", "-algorithm", "gost2012_256",
             "-pkeyopt", "paramset:A", "-out", key)  # fmt: skip
    _openssl("req", "-engine", "gost", "-new", "-x509", "-md_gost12_256", "-key", key,
             "-subj", "/CN=raw-esia-client/O=School", "-days", "30", "-out", pem)  # fmt: skip
    _openssl("x509", "-engine", "gost", "-in", pem, "-outform", "DER", "-out", der)
    digest = _openssl("dgst", "-engine", "gost", "-md_gost12_256", "-r", der).split()[0]
    return ClientKeys(key, pem.read_text("ascii"), digest.decode("ascii").upper())


@pytest.fixture
def idp(mock_idp: RunningIdP, keys: ClientKeys) -> RunningIdP:
    """The mock, serving on 127.0.0.1, with the client registered as ESIA registers one."""
    mock_idp.idp.add_client(
        {
            "client_id": CLIENT_ID,
            "auth_method": "esia_gost",
            "certificate_pem": keys.certificate_pem,
            "id_token_alg": GOST_ALG,
            "redirect_uris": [REDIRECT_URI],
        }
    )
    return mock_idp


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y.%m.%d %H:%M:%S %z")  # yyyy.MM.dd HH:mm:ss Z


def _ac_params(keys: ClientKeys) -> dict[str, str]:
    """A v2/ac request: no code_challenge, no openid; scope_org is empty."""
    state, timestamp = str(uuid.uuid4()), _timestamp()
    return {
        "client_id": CLIENT_ID,
        "client_secret": keys.secret(CLIENT_ID, SCOPE, timestamp, state, REDIRECT_URI),
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "response_type": "code",
        "state": state,
        "timestamp": timestamp,
        "access_type": "online",
        "client_certificate_hash": keys.certificate_hash,
    }


class _Forms(HTMLParser):
    """The forms of a page: their action and their fields' current values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append((found.get("action") or "", {}))
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1][1][str(found["name"])] = found.get("value") or ""


def _form_with(page: httpx.Response, field: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(page.text)
    for action, fields in parser.forms:
        if field in fields:
            return urljoin(str(page.url), action), fields
    raise AssertionError(f"no form with a {field!r} field on {page.url}: {page.text[:500]}")


def _within_idp(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects as a browser would, stopping at the client's redirect_uri."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        target = urljoin(str(response.url), response.headers["location"])
        if target.startswith(REDIRECT_URI):
            return response
        response = browser.get(target)
    raise AssertionError("too many redirects")


def _page(response: httpx.Response) -> httpx.Response:
    """A page of the IdP (not a redirect back to the client)."""
    shown = response.headers.get("location") or response.text[:500]
    assert response.status_code == 200, (response.status_code, shown)
    return response


def _back_at_client(response: httpx.Response) -> dict[str, str]:
    """The query the IdP sends back to the redirect_uri."""
    assert response.is_redirect, (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _log_in(browser: httpx.Client, idp: RunningIdP, params: dict[str, str]) -> dict[str, str]:
    """v2/ac, the login page and the SMS code page; the redirect_uri's query at the end."""
    page = _page(_within_idp(browser, browser.get(idp.base_url + AC_PATH, params=params)))
    action, fields = _form_with(page, "password")
    fields.update(login=LOGIN, password=PASSWORD)
    page = _within_idp(browser, browser.post(action, data=fields))
    if not page.is_redirect:  # the second factor: the code the IdP sent by SMS
        action, fields = _form_with(page, "code")
        outbox = httpx.get(idp.base_url + "/outbox", headers=idp.admin_headers).json()
        fields["code"] = outbox[-1]["code"]  # read on the IdP side, as the phone would
        page = _within_idp(browser, browser.post(action, data=fields))
    return _back_at_client(page)


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_keys(archive: bytes, folder: Path) -> list[Path]:
    """Public keys (PEM) of the GOST certificates (DER ``.cer``) in the IdP's archive."""
    keys: list[Path] = []
    with zipfile.ZipFile(io.BytesIO(archive)) as certificates:
        for name in certificates.namelist():
            if not name.lower().endswith(".cer"):
                continue
            der = folder / f"idp-{len(keys)}.cer"
            der.write_bytes(certificates.read(name))
            public = _openssl("x509", "-engine", "gost", "-inform", "DER", "-in", der,
                              "-pubkey", "-noout")  # fmt: skip
            keys.append(folder / f"idp-{len(keys)}.pub.pem")
            keys[-1].write_bytes(public)
    return keys


def _verifies(public_key: Path, data: bytes, signature: bytes) -> bool:
    """Whether openssl verifies ``signature`` over ``data`` with ``public_key``."""
    binary = openssl_gost()
    assert binary is not None
    sig = public_key.with_suffix(".sig")
    sig.write_bytes(signature)
    done = subprocess.run(
        [binary, "dgst", "-engine", "gost", "-md_gost12_256", "-verify", str(public_key),
         "-signature", str(sig)],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0 and b"Verified OK" in done.stdout


def _signed_by(token: str, public_keys: list[Path]) -> bool:
    head, body, signature = token.split(".")
    data = f"{head}.{body}".encode("ascii")
    return any(_verifies(key, data, _segment(signature)) for key in public_keys)


def _with_one_payload_character_changed(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(body) // 2
    swapped = "B" if body[middle] == "A" else "A"
    return f"{head}.{body[:middle]}{swapped}{body[middle + 1 :]}.{signature}"


def test_a_client_from_esias_description_logs_in(
    idp: RunningIdP, keys: ClientKeys, tmp_path: Path
) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        ac = _ac_params(keys)
        back = _log_in(browser, idp, ac)
        assert "error" not in back, back
        assert back["state"] == ac["state"]

        state, timestamp = str(uuid.uuid4()), _timestamp()
        code = back["code"]
        te = {
            "client_id": CLIENT_ID,
            "code": code,
            "grant_type": "authorization_code",
            "client_secret": keys.secret(CLIENT_ID, SCOPE, timestamp, state, REDIRECT_URI, code),
            "state": state,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "timestamp": timestamp,
            "token_type": "Bearer",
            "client_certificate_hash": keys.certificate_hash,
        }
        answer = browser.post(idp.base_url + TE_PATH, data=te)
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        assert tokens["state"] == state
        assert "id_token" not in tokens  # no openid was asked for
        assert "refresh_token" not in tokens  # access_type=online: no refresh token
        assert tokens["token_type"] == "Bearer"
        access = tokens["access_token"]

        head, body, _ = access.split(".")
        header, claims = json.loads(_segment(head)), json.loads(_segment(body))
        assert header["alg"] == GOST_ALG
        assert "kid" not in header
        oid = claims["urn:esia:sbj_id"]
        assert isinstance(oid, int) and not isinstance(oid, bool)
        assert claims["client_id"] == CLIENT_ID
        assert claims["iss"] == idp.idp.issuer
        assert claims["exp"] > time.time()

        archive = browser.get(idp.base_url + "/aas/oauth2/certificates.zip")
        assert archive.status_code == 200, archive.text[:300]
        public_keys = _public_keys(archive.content, tmp_path)
        assert public_keys, "the archive holds no .cer certificate"
        assert _signed_by(access, public_keys)
        assert not _signed_by(_with_one_payload_character_changed(access), public_keys)

        person = browser.get(
            f"{idp.base_url}/rs/prns/{oid}", headers={"Authorization": f"Bearer {access}"}
        )
        assert person.status_code == 200, person.text
        document = person.json()

    record = idp.idp.provider.people.by_login(LOGIN)  # the directory, on the IdP side
    assert record is not None and record.oid == oid
    assert document["lastName"] == record.last_name
    assert document["firstName"] == record.first_name
    assert document.get("middleName") == record.middle_name
    assert document["birthDate"] == record.birth_date
    assert document["snils"] == record.snils


def test_a_replayed_v2_ac_request_is_refused_and_a_lowercase_hash_accepted(
    idp: RunningIdP, keys: ClientKeys
) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        ac = _ac_params(keys)
        first = _page(_within_idp(browser, browser.get(idp.base_url + AC_PATH, params=ac)))
        _form_with(first, "password")

        again = _within_idp(browser, browser.get(idp.base_url + AC_PATH, params=ac))
        refused = _back_at_client(again)
        assert refused["error"], refused
        assert refused["error_description"].startswith(REPLAY_REFUSAL), refused
        assert refused["state"] == ac["state"]

        lower = _ac_params(keys)
        lower["client_certificate_hash"] = keys.certificate_hash.lower()
        page = _page(_within_idp(browser, browser.get(idp.base_url + AC_PATH, params=lower)))
        _form_with(page, "password")
