"""A login is all or nothing: a session exists only if its login and session-start records
were written; a refusal the audit trail cannot take is still a refusal, and is logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers.broker import ANNA, World, build_world
from sso_bridge.broker import Broker, LoggedIn
from sso_bridge.errors import BridgeError, StoreError
from sso_bridge.model import AuditAction, AuditEvent


class FlakyAudit:
    """The store's audit trail, failing (as a database outage would) while ``down``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreError("database write failed: server closed", code="store.unavailable")

    def record(self, event: AuditEvent) -> AuditEvent:
        self._check()
        return self.inner.record(event)  # type: ignore[no-any-return]

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        self._check()
        return self.inner.record_many(events)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def _login(world: World, broker: Broker) -> object:
    client = world.client()
    redirect = broker.begin_federated("esia", client)
    return broker.finish("esia", world.oidc_callback(redirect, ANNA), client)


def _actions(world: World) -> list[AuditAction]:
    return [e.action for e in world.store.tail(1000)]


def test_login_whose_records_cannot_be_written_leaves_no_session(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    audit = FlakyAudit(world.store)
    broker = world.broker_like(audit=audit)
    redirect = broker.begin_federated("esia", world.client())
    callback = world.oidc_callback(redirect, ANNA)
    audit.down = True
    with (
        caplog.at_level(logging.ERROR, "sso_bridge.security"),
        pytest.raises(StoreError, match=r"^store\.unavailable:"),
    ):
        broker.finish("esia", callback, world.client())
    # the link committed with its own record; the session was ended again
    assert [
        link.account_id for link in world.store.links_for_subject(world.idp.issuer, str(ANNA))
    ] == ["a-anna"]
    assert broker.sessions.sessions_of("a-anna", world.clock.now()) == []
    assert AuditAction.LOGIN not in _actions(world)
    logged = [r for r in caplog.records if getattr(r, "event", None) == "login.unrecorded"]
    assert len(logged) == 1 and logged[0].session_ended is True  # type: ignore[attr-defined]
    assert str(ANNA) not in json.dumps(logged[0].__dict__, default=str)
    # once the trail is back, the next login goes straight in and is recorded
    audit.down = False
    result = _login(world, broker)
    assert isinstance(result, LoggedIn)
    assert [s.session_id for s in broker.sessions.sessions_of("a-anna", world.clock.now())] == [
        result.session.session_id
    ]
    assert _actions(world)[-2:] == [AuditAction.LOGIN, AuditAction.SESSION_START]


def test_a_refusal_the_trail_cannot_take_is_still_the_refusal_and_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    audit = FlakyAudit(world.store)
    broker = world.broker_like(audit=audit)
    redirect = broker.begin_federated("esia", world.client())
    callback = world.oidc_callback(redirect, ANNA)
    callback["state"] = "x" * len(callback["state"])
    audit.down = True
    with (
        caplog.at_level(logging.ERROR, "sso_bridge.security"),
        pytest.raises(BridgeError) as refused,
    ):
        broker.finish("esia", callback, world.client())
    assert not isinstance(refused.value, StoreError)
    logged = [r for r in caplog.records if getattr(r, "event", None) == "audit.unrecorded"]
    assert [r.code for r in logged] == [refused.value.code]  # type: ignore[attr-defined]
    assert logged[0].action == AuditAction.LOGIN_REFUSED.value  # type: ignore[attr-defined]


def test_a_session_whose_logout_index_cannot_be_written_is_not_left_behind(world: World) -> None:
    sessions = world.broker.sessions

    def broken(*_: object) -> None:
        raise StoreError("Redis cannot be reached", code="store.unavailable")

    sessions._index.enter = broken  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        sessions.start(
            "a-anna", ip="10.0.0.5", user_agent="t", now=world.clock.now(), method="local"
        )
    assert sessions.sessions_of("a-anna", world.clock.now()) == []
