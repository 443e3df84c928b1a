"""The protocols' one-time stores and the shared JWKS, kept in an EphemeralStore."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk

from helpers.clock import NOW, FixedClock
from sso_bridge.oidc import OidcError, ProviderConfig, authorization_request, check_callback
from sso_bridge.oidc.flow import StateStore
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.keys import JWKS_KIND, JwksCache
from sso_bridge.saml.stores import ReplayCache, RequestStore
from sso_bridge.store import EphemeralStore, InMemoryEphemeralStore, SqlEphemeralStore
from sso_bridge.store.adapters import (
    EphemeralReplayCache,
    EphemeralRequestStore,
    EphemeralStateStore,
)
from sso_bridge.store.sql import create_engine

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
MINUTE = timedelta(minutes=1)
ISSUER = "https://idp.example/"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EphemeralStore]:
    """The adapters run over an in-process, a SQL and (when configured) a Redis store."""
    if request.param == "memory":
        yield InMemoryEphemeralStore()
        return
    if request.param == "sqlite":
        sql = SqlEphemeralStore(create_engine(f"sqlite:///{tmp_path / 'e.db'}"))
        yield sql
        sql.close()
        return
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    prefix = f"test:{uuid.uuid4().hex}:"
    shared = RedisEphemeralStore.from_url(url, prefix=prefix)
    yield shared
    names = list(shared.client.scan_iter(match=f"{prefix}*"))
    if names:
        shared.client.delete(*names)
    shared.close()


# -- OIDC state --------------------------------------------------------------------------


def test_state_is_used_once(store: EphemeralStore) -> None:
    states: StateStore = EphemeralStateStore(store)
    assert states.consume("s-1", NOW + MINUTE, NOW)
    assert not states.consume("s-1", NOW + MINUTE, NOW)
    assert states.consume("s-2", NOW + MINUTE, NOW)
    # Forgotten only once it would have expired anyway.
    assert states.consume("s-1", NOW + 2 * MINUTE, NOW + MINUTE)


def test_state_replay_is_refused_by_the_callback(store: EphemeralStore) -> None:
    config = ProviderConfig(
        issuer=ISSUER,
        authorization_endpoint=ISSUER + "authorize",
        token_endpoint=ISSUER + "token",
        jwks_uri=ISSUER + "jwks",
        client_id="rp",
        redirect_uri="https://rp.example/cb",
        client_secret="s",
        algorithms=("ES256",),
        authorization_response_iss_parameter_supported=True,
    )
    pending = authorization_request(config, NOW).pending
    params = {"code": "c", "state": pending.state, "iss": ISSUER}
    # Two broker processes, one shared store.
    first, second = EphemeralStateStore(store), EphemeralStateStore(store)
    assert check_callback(config, pending, params, now=NOW, state_store=first) == "c"
    with pytest.raises(OidcError) as exc:
        check_callback(config, pending, params, now=NOW, state_store=second)
    assert exc.value.code == "oidc.state_reused"


# -- SAML requests and replays -----------------------------------------------------------


def test_request_is_consumed_once(store: EphemeralStore) -> None:
    requests: RequestStore = EphemeralRequestStore(store, clock=FixedClock(NOW))
    requests.add("_req1", NOW + 5 * MINUTE)
    requests.add("_req2", NOW + MINUTE)
    assert requests.consume("_req1", NOW + MINUTE)
    assert not requests.consume("_req1", NOW + MINUTE)
    assert not requests.consume("_never", NOW)
    assert not requests.consume("_req2", NOW + MINUTE)  # expired


def test_request_ids_of_any_size_and_form(store: EphemeralStore) -> None:
    requests = EphemeralRequestStore(store, clock=FixedClock(NOW))
    long_id = "_" + "x" * 10_000
    requests.add(long_id, NOW + MINUTE)
    assert not requests.consume(long_id[:-1], NOW)
    assert requests.consume(long_id, NOW)
    requests.add("id:with:colons ☃", NOW + MINUTE)
    assert requests.consume("id:with:colons ☃", NOW)


def test_replay_cache_refuses_a_second_sight(store: EphemeralStore) -> None:
    replays: ReplayCache = EphemeralReplayCache(store)
    assert replays.add_if_new("_a1", NOW + MINUTE, NOW)
    assert not replays.add_if_new("_a1", NOW + MINUTE, NOW + 30 * timedelta(seconds=1))
    assert replays.add_if_new("_a2", NOW + MINUTE, NOW)
    assert replays.add_if_new("_a1", NOW + 3 * MINUTE, NOW + 2 * MINUTE)


def test_adapters_do_not_share_entries(store: EphemeralStore) -> None:
    EphemeralRequestStore(store, clock=FixedClock(NOW)).add("same", NOW + MINUTE)
    assert EphemeralReplayCache(store).add_if_new("same", NOW + MINUTE, NOW)
    assert EphemeralStateStore(store).consume("same", NOW + MINUTE, NOW)
    assert EphemeralRequestStore(store).consume("same", NOW)


# -- the JWKS shared through a store -----------------------------------------------------


def public_jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    data: dict[str, Any] = jwk.construct(key, "ES256").public_key().to_dict()
    return data | {"kid": kid}


class Jwks:
    """The IdP's JWKS endpoint: serves ``keys`` and counts the fetches."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        self.fetches += 1
        return HttpResponse(200, body=json.dumps({"keys": self.keys}).encode())

    def post(
        self, url: str, *, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        raise AssertionError("the JWKS cache only reads")


def test_processes_share_one_jwks_fetch(store: EphemeralStore) -> None:
    idp = Jwks(public_jwk("k1"))
    clock = FixedClock(NOW)
    uri = ISSUER + "jwks"
    first = JwksCache(idp, uri, ("ES256",), clock=clock, store=store)
    second = JwksCache(idp, uri, ("ES256",), clock=clock, store=store)
    assert first.key("k1", "ES256") is not None
    assert second.key("k1", "ES256") is not None
    assert idp.fetches == 1
    assert store.get(JWKS_KIND, uri, NOW) is not None

    idp.keys.append(public_jwk("k2"))  # the IdP rotates
    clock.advance(timedelta(seconds=31))
    assert first.key("k2", "ES256") is not None
    assert idp.fetches == 2
    # The second process takes the rotated document from the store, not from the IdP.
    assert second.key("k2", "ES256") is not None
    assert idp.fetches == 2


def test_without_a_store_each_cache_fetches() -> None:
    idp = Jwks(public_jwk("k1"))
    for _ in range(2):
        JwksCache(idp, ISSUER + "jwks", ("ES256",), clock=FixedClock(NOW)).keys()
    assert idp.fetches == 2
