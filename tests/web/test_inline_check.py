"""The session check of an async adapter on the event loop (sso_bridge.inline): a live
session from its own address is checked without a worker thread, over the in-process
store and over Redis (its entry read ahead on an asyncio client); everything that would
block (a touch of the idle lifetime, an IP change, an expired or unknown session, a
Redis fault, a SQL call) goes to a worker thread and behaves exactly as before."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from helpers.accounts import KEY
from helpers.aio import run_coroutine
from helpers.clock import FixedClock
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.broker import Broker
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.inline import WouldBlock, on_loop, prefetched, refuse_blocking
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender
from sso_bridge.model import AuditAction
from sso_bridge.sessions.cookies import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, open_store
from sso_bridge.store.guard import guard_for
from sso_bridge.store.redis import RedisEphemeralStore
from sso_bridge.web import WebConfig
from sso_bridge.web import starlette as web_starlette

ISSUER, SUBJECT, IP = "https://esia.example", "1000001", "127.0.0.1"


@web_starlette.require_session
async def _grades(request: Request) -> Response:
    return PlainTextResponse(f"grades of {request.state.sso_session.account_id}")


class Site:
    def __init__(self, store: EphemeralStore, db: Path) -> None:
        self.clock = FixedClock()
        self.store = store
        self.audit = InMemoryAuditLog()
        self.db = open_store(f"sqlite:///{db}", KEY)
        self.broker = Broker(
            directory=self.db,
            links=self.db,
            audit=self.audit,
            store=store,
            credentials=InMemoryCredentialStore(),
            sender=OutboxSender(),
            secret=KEY,
            providers=(),
            clock=self.clock,
        )
        config = WebConfig(cookies=CookieSettings(secure=False))
        routes = [web_starlette.auth_routes(self.broker, config), Route("/grades", _grades)]
        self.app = Starlette(routes=routes)
        self.hops = 0

    def log_in(self) -> str:
        token, _ = self.broker.sessions.start(
            "a1", ip=IP, user_agent="ua", now=self.clock.now(), issuer=ISSUER, subject=SUBJECT
        )
        return token

    def get(self, token: str, ip: str = IP) -> tuple[int, str]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/grades",
            "raw_path": b"/grades",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"cookie", f"sso_session={token}".encode())],
            "client": (ip, 50000),
            "server": ("127.0.0.1", 80),
        }
        run_coroutine(self.app(scope, receive, send))
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body.decode()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions the adapter ran on a worker thread."""
    ran: list[str] = []
    original = web_starlette.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(getattr(func, "__name__", repr(func)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(web_starlette, "run_in_threadpool", counted)
    return ran


def _redis_store() -> RedisEphemeralStore:
    url = os.environ.get("SSO_BRIDGE_TEST_REDIS")
    if not url:
        pytest.skip("SSO_BRIDGE_TEST_REDIS is not set: no Redis server to test against")
    return RedisEphemeralStore.from_url(url, prefix=f"inline-{secrets.token_hex(4)}:")


@pytest.fixture(params=["memory", "redis"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    store: Any = InMemoryEphemeralStore() if request.param == "memory" else _redis_store()
    made = Site(store, tmp_path / "site.db")
    yield made
    made.db.close()
    if request.param == "redis":
        keys = store.client.keys(f"{store.prefix}*")
        if keys:
            store.client.delete(*keys)
        store.close()


def test_a_live_session_is_checked_on_the_loop(site: Site, hops: list[str]) -> None:
    token = site.log_in()
    for _ in range(3):
        assert site.get(token) == (200, "grades of a1")
    assert hops == []


def test_a_touch_of_the_idle_lifetime_writes_on_a_thread(site: Site, hops: list[str]) -> None:
    token = site.log_in()
    site.clock.advance(timedelta(minutes=5))
    assert site.get(token) == (200, "grades of a1")
    # the in-process store writes without I/O: only Redis's write needs the thread
    writes = [] if isinstance(site.store, InMemoryEphemeralStore) else ["require"]
    assert hops == writes
    # written: the next check within the touch interval needs no write, so no thread
    session = site.broker.sessions.validate(token, ip=IP, now=site.clock.now())
    assert session.last_seen_at == site.clock.now()
    assert site.get(token) == (200, "grades of a1")
    assert hops == writes


def test_an_ip_change_is_handled_on_a_thread_as_before(site: Site, hops: list[str]) -> None:
    token = site.log_in()
    status, _ = site.get(token, ip="192.0.2.7")
    assert status == 401
    assert hops == ["require"]
    assert [e.action for e in site.audit.tail()][-1] is AuditAction.SECURITY
    status, _ = site.get(token)  # the session was ended
    assert status == 302


def test_an_ended_or_expired_session_goes_to_the_login_page(site: Site, hops: list[str]) -> None:
    assert site.get("x" * 43)[0] == 302
    token = site.log_in()
    site.clock.advance(timedelta(hours=2))  # idle past its timeout, within its lifetime
    assert site.get(token)[0] == 302
    assert AuditAction.SESSION_END in [e.action for e in site.audit.tail()]
    assert len(hops) == 2


def test_redis_down_is_one_503_without_a_second_wait(hops: list[str], tmp_path: Path) -> None:
    # nothing listens on this port: the read ahead fails and says so itself; the check
    # is not tried again on a thread (a hung Redis would be waited for twice)
    down = RedisEphemeralStore.from_url("redis://127.0.0.1:1/0", prefix="down:")
    site = Site(down, tmp_path / "site.db")
    try:
        status, text = site.get("x" * 43)
    finally:
        site.db.close()
    assert status == 503
    assert "store.unavailable" in text
    assert hops == []


def test_on_the_loop_every_blocking_call_refuses_before_it_does_anything(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'inline.db'}", KEY)
    try:
        with on_loop({("session", "k"): b"v"}):
            assert prefetched("session", "k") == (True, b"v")
            with pytest.raises(WouldBlock):
                prefetched("session", "other")
            with pytest.raises(WouldBlock):
                refuse_blocking()
            with pytest.raises(WouldBlock):
                guard_for(store.engine).enter()
            with pytest.raises(WouldBlock):
                store.linked_accounts(ISSUER, SUBJECT)
    finally:
        store.close()
    assert prefetched("session", "k") == (False, None)
    refuse_blocking()  # outside: nothing


def test_on_the_loop_redis_writes_refuse_and_write_nothing() -> None:
    store = _redis_store()
    try:
        now = FixedClock().now()
        with on_loop({}), pytest.raises(WouldBlock):
            store.put("session", "k", b"v", now + timedelta(minutes=1), now)
        assert store.get("session", "k", now) is None
    finally:
        store.close()
