"""Benchmark: the mock IdP's token endpoint and SAML responses.

The server runs in this process (uvicorn in a thread); the load comes from a separate
process over loopback with one keep-alive connection, so client and server do not share
an interpreter. Each figure is printed next to a peer from the same run:

* token endpoint (code exchange: client authentication, PKCE-free code, ID token signed
  with RS256) against the server's cheapest endpoint (``/jwks``): the HTTP floor;
* the same exchange called in-process, without HTTP;
* a SAML login response (Assertion and Response both signed, RSA-SHA256) against the
  floor of two raw python-xmlsec signatures over the same response document.

Its last line is machine-readable: ``token_per_s=... saml_response_per_s=...``.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

# This file is named like the package it measures; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import httpx  # noqa: E402
import xmlsec  # noqa: E402
from lxml import etree  # noqa: E402

from mock_idp.server import RunningIdP  # noqa: E402

CLIENT = {"client_id": "bench", "secret": "bench-secret", "redirect_uris": ["https://b.test/cb"]}
OID = 1000000101


def _load(base_url: str, codes: Sequence[str], path: str) -> list[float]:
    """Client side, in its own process: one request per code (or per item), timed."""
    timings = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for code in codes:
            start = time.perf_counter()
            if path == "/jwks":
                response = client.get(path)
            else:
                response = client.post(
                    path,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CLIENT["redirect_uris"][0],
                    },
                    auth=(CLIENT["client_id"], CLIENT["secret"]),
                )
            timings.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
    return timings


def _in_child(base_url: str, codes: Sequence[str], path: str) -> list[float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_load, (base_url, list(codes), path))


def _rate(timings: Sequence[float]) -> tuple[float, float]:
    return len(timings) / sum(timings), statistics.median(timings) * 1000


def _timed(count: int, call: Callable[[], object]) -> list[float]:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return timings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    n = args.requests
    config = Path(str(resources.files("mock_idp") / "sample.yaml"))
    print(f"mock IdP benchmark: Python {platform.python_version()}, {n} requests each")
    with RunningIdP(config) as running:
        idp = running.idp
        idp.add_client(CLIENT)
        warm = [idp.authorization_code("bench", OID) for _ in range(50)]
        _in_child(running.base_url, warm, "/aas/oauth2/te")
        codes = [idp.authorization_code("bench", OID) for _ in range(n)]
        token_rate, token_ms = _rate(_in_child(running.base_url, codes, "/aas/oauth2/v3/te"))
        floor_rate, floor_ms = _rate(_in_child(running.base_url, ["-"] * n, "/jwks"))
        provider = idp.provider
        client = provider.clients["bench"]
        redirect = CLIENT["redirect_uris"][0]
        local_codes = iter([idp.authorization_code("bench", OID) for _ in range(n)])
        local_rate, local_ms = _rate(
            _timed(
                n,
                lambda: provider.exchange_code(
                    client, {"code": next(local_codes), "redirect_uri": redirect}
                ),
            )
        )
        saml = idp.saml
        saml.register_sp_settings("https://b.test/saml", "https://b.test/saml/acs")
        person = provider.people.get(OID)
        if person is None:
            raise SystemExit(f"the sample config has no person {OID}")
        respond = lambda: saml.login_response(None, person, sp_entity_id="https://b.test/saml")  # noqa: E731
        respond()
        saml_rate, saml_ms = _rate(_timed(n, respond))
        floor_sign = _raw_signing(respond().fields["SAMLResponse"], saml.signing_key.key_pem())
        sign_rate, sign_ms = _rate(_timed(n, floor_sign))
    print(f"token endpoint   {token_rate:8,.0f}/s  median {token_ms:6.2f} ms  (over HTTP)")
    print(
        f"  HTTP floor     {floor_rate:8,.0f}/s  median {floor_ms:6.2f} ms  (GET /jwks)"
        f"  token/floor = {token_rate / floor_rate:.2f}"
    )
    print(
        f"  in-process     {local_rate:8,.0f}/s  median {local_ms:6.2f} ms  (no HTTP)"
        f"  token/in-process = {token_rate / local_rate:.2f}"
    )
    print(f"SAML response    {saml_rate:8,.0f}/s  median {saml_ms:6.2f} ms  (in-process)")
    print(
        f"  signing floor  {sign_rate:8,.0f}/s  median {sign_ms:6.2f} ms  (two raw xmlsec"
        f" signatures)  response/floor = {saml_rate / sign_rate:.2f}"
    )
    print(f"token_per_s={token_rate:.0f} saml_response_per_s={saml_rate:.0f}")


def _raw_signing(response_b64: str, key_pem: bytes) -> Callable[[], object]:
    """Sign the Assertion and then the Response of a finished response, with xmlsec only."""
    document = base64.b64decode(response_b64)
    key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    ns = "{http://www.w3.org/2000/09/xmldsig#}Signature"

    def sign() -> None:
        root = etree.fromstring(document)
        for element in (root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"), root):
            signature = element.find(ns)
            context = xmlsec.SignatureContext()
            context.key = key
            context.register_id(element, "ID")
            context.sign(signature)

    return sign


if __name__ == "__main__":
    sys.exit(main())
