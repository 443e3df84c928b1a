"""The OIDC ``state`` is the login step's id, and it is used up exactly once: the broker
consumes the step kept under it; the relying party's used-state store is not written a
second time, and nothing is read twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from helpers.broker import ANNA, World, build_world
from sso_bridge.broker import LoggedIn, OidcProvider, SecondFactorForm
from sso_bridge.errors import BridgeError
from sso_bridge.oidc import HttpxClient, InMemoryStateStore, RelyingParty, check_callback
from sso_bridge.oidc.flow import authorization_request
from sso_bridge.store.adapters import EphemeralStateStore
from sso_bridge.store.memory import InMemoryEphemeralStore

STEP = "step"


class Recording:
    """An ephemeral store that notes every call: (method, kind, key)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, str(args[0]), str(args[1])))
            return method(*args, **kwargs)

        return call


class UsedStates:
    """A used-state store that notes each use."""

    def __init__(self) -> None:
        self.marked: list[str] = []

    def mark_used(self, state: str, until: datetime, now: datetime) -> bool:
        self.marked.append(state)
        return True


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_the_state_is_taken_once_and_a_second_use_is_refused(world: World) -> None:
    used = UsedStates()
    ephemeral = Recording(InMemoryEphemeralStore())
    rp = RelyingParty(world.rp.config, HttpxClient(world.http), clock=world.clock, state_store=used)
    broker = world.broker_like(store=ephemeral, providers=(OidcProvider("esia", rp),))
    client = world.client()
    redirect = broker.begin_federated("esia", client)
    state = dict(parse_qsl(urlsplit(redirect.url).query))["state"]
    params = world.oidc_callback(redirect, ANNA)
    ephemeral.calls.clear()

    answer = broker.finish("esia", params, client)

    assert isinstance(answer, LoggedIn | SecondFactorForm)
    reads = [c for c in ephemeral.calls if c[0] in ("get", "consume") and c[1:] == (STEP, state)]
    assert reads == [("get", STEP, state), ("consume", STEP, state)]
    assert len(set(ephemeral.calls)) == len(ephemeral.calls), ephemeral.calls
    assert used.marked == []  # the step's consumption is the state's one use
    with pytest.raises(BridgeError, match=r"^broker\.step_unknown:"):
        broker.finish("esia", params, client)
    assert used.marked == []


def test_a_relying_party_on_its_own_still_refuses_a_reused_state(world: World) -> None:
    request = authorization_request(world.rp.config, world.clock.now())
    params = {"state": request.pending.state, "code": "c", "iss": world.rp.config.issuer}
    states = InMemoryStateStore()
    now = world.clock.now()
    assert check_callback(world.rp.config, request.pending, params, now=now, state_store=states)
    with pytest.raises(BridgeError, match=r"^oidc\.state_reused:"):
        check_callback(world.rp.config, request.pending, params, now=now, state_store=states)
    # the caller that took the state itself passes no store: nothing is recorded
    assert check_callback(world.rp.config, request.pending, params, now=now, state_store=None)


def test_a_state_store_written_for_the_former_method_name_still_works(world: World) -> None:
    class Former:
        def __init__(self) -> None:
            self.seen: set[str] = set()

        def consume(self, state: str, until: datetime, now: datetime) -> bool:
            fresh = state not in self.seen
            self.seen.add(state)
            return fresh

    request = authorization_request(world.rp.config, world.clock.now())
    params = {"state": request.pending.state, "code": "c", "iss": world.rp.config.issuer}
    now = world.clock.now()
    former: Any = Former()
    assert check_callback(world.rp.config, request.pending, params, now=now, state_store=former)
    with pytest.raises(BridgeError, match=r"^oidc\.state_reused:"):
        check_callback(world.rp.config, request.pending, params, now=now, state_store=former)
    shared = EphemeralStateStore(InMemoryEphemeralStore())
    later = now + timedelta(minutes=1)
    assert shared.consume("s", later, now) is True  # the former name of mark_used
    assert shared.mark_used("s", later, now) is False
