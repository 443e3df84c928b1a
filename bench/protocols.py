"""Benchmark: protocol checks against their peers, on the same document in the same run.

* SAML: processing one signed login response (Response and Assertion signatures,
  every check) with sso_bridge's service provider, against pysaml2's own
  ``Saml2Client`` with its default backend, which runs the ``xmlsec1`` program
  (``apt-get install xmlsec1``; the benchmark says so when it is missing).
  Target: at least 40 times faster.
* ID token: sso_bridge's validation, against the floor of a raw ``cryptography``
  signature verification of the same token. Target: at most 2 times the floor.

Last line: ``saml_speedup=... idtoken_over_floor=...`` (the two ratios).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/mock_idp.py is named like the package; keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from saml2 import BINDING_HTTP_POST  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402

from mock_idp.keys import KeyRing  # noqa: E402
from mock_idp.saml_idp import SamlIdP  # noqa: E402
from mock_idp.tokens import id_token_claims, sign_token  # noqa: E402
from mock_idp.users import person_from_dict  # noqa: E402
from sso_bridge.oidc.config import ProviderConfig  # noqa: E402
from sso_bridge.oidc.http import HttpResponse  # noqa: E402
from sso_bridge.oidc.idtoken import validate_id_token  # noqa: E402
from sso_bridge.oidc.keys import JwksCache  # noqa: E402
from sso_bridge.saml.sp import (  # noqa: E402
    InMemoryReplayCache,
    InMemoryRequestStore,
    ServiceProviderConfig,
    process_response,
)

SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
PERSON = person_from_dict(
    {
        "oid": 1000000101,
        "login": "m@example.org",
        "password": "p",
        "last_name": "Смирнова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": "12.03.1984",
        "snils": "123-456-789 64",
    }
)


class _Now:
    def now(self) -> datetime:
        return datetime.now(UTC)


def per_call(count: int, call: Callable[[], object]) -> float:
    """Median seconds per call over ``count`` calls (after one untimed call)."""
    call()
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    timings.sort()
    return timings[len(timings) // 2]


def saml_figures(count: int, peer_count: int) -> tuple[float, float | None]:
    """(ours, pysaml2's) seconds per response; pysaml2's is None without xmlsec1."""
    state = Path(tempfile.mkdtemp(prefix="bench-saml-"))
    idp = SamlIdP("https://idp.example", state / "idp")
    idp.register_sp_settings(SP, ACS)
    response = idp.login_response(None, PERSON, sp_entity_id=SP).fields["SAMLResponse"]
    config = ServiceProviderConfig.from_idp_metadata(
        idp.metadata(),
        entity_id=SP,
        acs_url=ACS,
        idp_entity_id=idp.entity_id,
        allow_idp_initiated=True,
        want_signed_response=True,
    )
    clock = _Now()
    requests = InMemoryRequestStore()

    def ours() -> object:
        # a fresh replay cache each time: the same document is processed again and again
        return process_response(
            response,
            config,
            request_store=requests,
            replay_cache=InMemoryReplayCache(),
            clock=clock,
        )

    identity = ours()
    if getattr(identity, "subject", None) != str(PERSON.oid):
        raise SystemExit(f"unexpected identity: {identity!r}")
    our_time = per_call(count, ours)
    binary = shutil.which("xmlsec1")
    if binary is None:
        return our_time, None
    settings = {
        "entityid": SP,
        "metadata": {"inline": [idp.metadata()]},
        "xmlsec_binary": binary,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
                "want_assertions_signed": True,
                "want_response_signed": True,
                "allow_unsolicited": True,
            }
        },
    }
    peer_config = SPConfig()
    peer_config.load(settings)
    client = Saml2Client(config=peer_config)
    peer_time = per_call(
        peer_count, lambda: client.parse_authn_request_response(response, BINDING_HTTP_POST)
    )
    return our_time, peer_time


class _StaticJwks:
    """An HTTP port that answers the JWKS request from memory."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._body = json.dumps(jwks).encode()

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, self._body)

    def post(self, url: str, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError


def idtoken_figures(count: int) -> tuple[float, float]:
    """(ours, floor) seconds per RS256 ID token."""
    ring = KeyRing.generate()
    now = datetime.now(UTC)
    claims = id_token_claims(
        PERSON,
        issuer="https://idp.example/",
        client_id="portal",
        nonce="n-1",
        access_token="at-1",
        now=now,
        lifetime=timedelta(minutes=10),
        second_factor="sms",
    )
    signing_key = ring.active("RS256")
    token = sign_token(claims, signing_key)
    config = ProviderConfig(
        issuer="https://idp.example/",
        authorization_endpoint="https://idp.example/ac",
        token_endpoint="https://idp.example/te",
        jwks_uri="https://idp.example/jwks",
        client_id="portal",
        redirect_uri="https://portal.example/cb",
        client_secret="unused-here",
    )
    cache = JwksCache(_StaticJwks(ring.jwks()), config.jwks_uri, config.algorithms)

    def ours() -> object:
        return validate_id_token(
            token, config, cache.key, nonce="n-1", now=datetime.now(UTC), access_token="at-1"
        )

    public_key = signing_key.private_key.public_key()

    def floor() -> None:
        signing_input, _, signature = token.rpartition(".")
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        public_key.verify(raw, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg, union-attr]

    return per_call(count, ours), per_call(count, floor)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="calls timed for sso_bridge")
    parser.add_argument("--peer-count", type=int, default=30, help="calls timed for the peers")
    args = parser.parse_args(argv)
    ours, peer = saml_figures(args.count, args.peer_count)
    print(f"SAML response, sso_bridge       {ours * 1000:8.3f} ms  ({1 / ours:,.0f}/s)")
    if peer is None:
        print("SAML response, pysaml2+xmlsec1  (xmlsec1 is not installed: no peer figure)")
        speedup = float("nan")
    else:
        speedup = peer / ours
        print(f"SAML response, pysaml2+xmlsec1  {peer * 1000:8.3f} ms  ({1 / peer:,.0f}/s)")
        verdict = "met" if speedup >= 40 else "NOT met"
        print(f"  speed-up {speedup:.1f}x (target >= 40x: {verdict})")
    ours_token, floor_token = idtoken_figures(args.count * 4)
    idtoken_ratio = ours_token / floor_token
    print(f"ID token, sso_bridge            {ours_token * 1e6:8.1f} us")
    print(f"ID token, raw cryptography      {floor_token * 1e6:8.1f} us (signature verify only)")
    verdict = "met" if idtoken_ratio <= 2 else "NOT met"
    print(f"  {idtoken_ratio:.2f}x the floor (target <= 2x: {verdict})")
    print(f"saml_speedup={speedup:.1f} idtoken_over_floor={idtoken_ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
