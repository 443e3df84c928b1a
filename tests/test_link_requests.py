"""Link requests queued for an administrator (docs/reauthentication.md, "Queued link
requests"): the stores (in memory, SQLite, PostgreSQL when set), approving and refusing
with their audit records, expiry, erasure, and the broker queueing a link from settings
refused only for disagreement, when the host turned it on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from helpers.broker import (
    BASE,
    LOGINS,
    MARIA,
    PASSWORDS,
    TOTP_SECRETS,
    World,
    build_world,
    sample_accounts,
)
from helpers.clock import FixedClock
from sso_bridge.audit.redact import redact
from sso_bridge.broker import BrokerPolicy, LinkRequested, Redirect
from sso_bridge.errors import BridgeError, ConfigError, LinkConflict
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.requests import (
    InMemoryLinkRequestStore,
    LinkRequest,
    LinkRequests,
    LinkRequestStore,
    check_request_id,
    new_request_id,
)
from sso_bridge.mfa import decode_secret
from sso_bridge.mfa.otp import totp
from sso_bridge.model import AuditAction, LinkMethod
from sso_bridge.store.sql import SqlStore, open_store

MOMENT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
OTHER = "https://other-idp.example/"


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def request(rid: str, account: str = "a", subject: str = "s1", **kw: object) -> LinkRequest:
    fields: dict[str, object] = {"differing": "full name", "created_at": MOMENT, "ip": "192.0.2.1"}
    fields.update(kw)
    return LinkRequest(rid, account, ISSUER, subject, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def requests_store(request: pytest.FixtureRequest) -> Iterator[LinkRequestStore]:
    if request.param == "memory":
        yield InMemoryLinkRequestStore()
        return
    name = "sqlite_url" if request.param == "sqlite" else "postgres_schema_url"
    store = open_store(str(request.getfixturevalue(name)), KEY)
    store.import_accounts([make_account("a"), make_account("b")], ORGS)
    yield store
    store.close()


# -- the store ------------------------------------------------------------------------------


def test_one_request_per_account_issuer_and_subject(requests_store: LinkRequestStore) -> None:
    first = requests_store.add(request("r1"))
    assert first == request("r1")
    again = requests_store.add(request("r2", created_at=MOMENT + timedelta(hours=1)))
    assert again == first  # nothing new kept
    requests_store.add(request("r3", subject="s2"))
    requests_store.add(request("r4", account="b"))
    assert [r.request_id for r in requests_store.pending()] == ["r1", "r3", "r4"]
    assert [r.request_id for r in requests_store.pending(account_id="b")] == ["r4"]
    assert len(requests_store.pending(limit=2)) == 2
    assert requests_store.get("r2") is None
    assert requests_store.get("r1") == first


def test_pending_is_oldest_first_and_skips_those_created_before(
    requests_store: LinkRequestStore,
) -> None:
    requests_store.add(request("new", subject="s2", created_at=MOMENT + timedelta(days=2)))
    requests_store.add(request("old", subject="s1", created_at=MOMENT))
    assert [r.request_id for r in requests_store.pending()] == ["old", "new"]
    after = MOMENT + timedelta(days=1)
    assert [r.request_id for r in requests_store.pending(created_after=after)] == ["new"]
    assert requests_store.expire(after) == 1
    assert [r.request_id for r in requests_store.pending()] == ["new"]


def test_consuming_takes_a_request_once(requests_store: LinkRequestStore) -> None:
    requests_store.add(request("r1"))
    assert requests_store.consume("r1") == request("r1")
    assert requests_store.consume("r1") is None
    assert requests_store.pending() == []


def test_erase_account_and_subject_remove_only_theirs(requests_store: LinkRequestStore) -> None:
    requests_store.add(request("r1", account="a", subject="s1"))
    requests_store.add(request("r2", account="a", subject="s2"))
    requests_store.add(request("r3", account="b", subject="s1"))
    requests_store.add(request("r4", account="b", subject="s2"))
    assert requests_store.erase_account("a") == 2
    assert [r.request_id for r in requests_store.pending()] == ["r3", "r4"]
    assert requests_store.erase_subject(ISSUER, "s1") == 1
    assert requests_store.erase_subject(OTHER, "s2") == 0
    assert [r.request_id for r in requests_store.pending()] == ["r4"]


def test_the_sql_store_keeps_requests_across_instances(store: SqlStore, db_url: str) -> None:
    store.import_accounts([make_account("a")])
    store.add(request("r1"))
    other = open_store(db_url, KEY)
    try:
        assert other.pending() == [request("r1")]
        assert other.consume("r1") == request("r1")
        assert store.consume("r1") is None
    finally:
        other.close()


# -- approving and refusing -----------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MOMENT)


@pytest.fixture
def queue(store: SqlStore, clock: FixedClock) -> LinkRequests:
    store.import_accounts([make_account("a"), make_account("b")])
    return LinkRequests(store, Linker(store, store, store, clock), store, clock)


def test_submit_audits_once_and_never_duplicates(store: SqlStore, queue: LinkRequests) -> None:
    made, created = queue.submit("a", ISSUER, "s1", "birth date", ip="203.0.113.7")
    assert created
    again, created_again = queue.submit("a", ISSUER, "s1", "full name")
    assert (again, created_again) == (made, False)
    assert queue.pending() == [made]
    [event] = [e for e in store.tail(20) if e.action is AuditAction.LINK_REQUESTED]
    assert (event.account_id, event.issuer, event.subject, event.ip) == (
        "a",
        ISSUER,
        "s1",
        "203.0.113.7",
    )
    assert event.detail == f"request {made.request_id}: the birth date differs"


def test_approve_links_as_the_operator_and_consumes(store: SqlStore, queue: LinkRequests) -> None:
    made, _ = queue.submit("a", ISSUER, "s1", "full name")
    link = queue.approve(made.request_id, "admin:olga")
    assert (link.account_id, link.subject, link.method, link.created_by) == (
        "a",
        "s1",
        LinkMethod.ADMIN,
        "admin:olga",
    )
    assert store.links_for_account("a") == [link]
    [event] = [e for e in store.tail(20) if e.action is AuditAction.LINK]
    assert (event.actor, event.method, event.account_id) == ("admin:olga", LinkMethod.ADMIN, "a")
    assert queue.pending() == []
    with refused("link_request.not_found"):
        queue.approve(made.request_id, "admin:olga")
    with refused("link_request.not_found"):
        queue.refuse(made.request_id, "admin:olga")


def test_a_refused_approval_keeps_the_request(store: SqlStore, queue: LinkRequests) -> None:
    """The account links to another subject of the issuer: nothing changes, the request
    waits until the operator unlinks or refuses it."""
    made, _ = queue.submit("a", ISSUER, "s1", "full name")
    Linker(store, store, store).link_admin(ISSUER, "s0", "a", RequestContext("admin:olga"))
    with pytest.raises(LinkConflict):
        queue.approve(made.request_id, "admin:olga")
    assert queue.pending() == [made]


def test_refuse_audits_with_the_operator(store: SqlStore, queue: LinkRequests) -> None:
    made, _ = queue.submit("b", ISSUER, "s9", "passport")
    assert queue.refuse(made.request_id, "admin:ivan") == made
    assert store.links_for_account("b") == []
    [event] = [e for e in store.tail(20) if e.action is AuditAction.LINK_REQUEST_REFUSED]
    assert (event.actor, event.account_id, event.subject) == ("admin:ivan", "b", "s9")
    assert made.request_id in (event.detail or "")
    with refused("link_request.not_found"):
        queue.refuse(made.request_id, "admin:ivan")


def test_requests_expire(store: SqlStore, queue: LinkRequests, clock: FixedClock) -> None:
    old, _ = queue.submit("a", ISSUER, "s1", "full name")
    clock.advance(timedelta(days=30))
    assert queue.pending() == []
    with refused("link_request.not_found"):
        queue.approve(old.request_id, "admin:olga")
    assert store.links_for_account("a") == []
    fresh, created = queue.submit("a", ISSUER, "s1", "full name")  # the stale one gives way
    assert created and fresh.request_id != old.request_id
    assert queue.pending() == [fresh]
    clock.advance(timedelta(days=29))
    assert queue.pending() == [fresh]
    short = LinkRequests(store, Linker(store, store, store, clock), store, clock, ttl=timedelta(1))
    assert short.pending() == []
    assert short.expire() == 1
    assert queue.pending() == []


@pytest.mark.parametrize(
    ("request_id", "operator", "code"),
    [
        ("", "admin:olga", "link_request.bad_id"),
        ("x" * 65, "admin:olga", "link_request.bad_id"),
        ("a b", "admin:olga", "link_request.bad_id"),
        ("../etc", "admin:olga", "link_request.bad_id"),
        ("abc", "", "link_request.bad_operator"),
        ("abc", "o" * 129, "link_request.bad_operator"),
        ("abc", "admin\nolga", "link_request.bad_operator"),
        ("abc", "admin:olga", "link_request.not_found"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    store: SqlStore, queue: LinkRequests, request_id: str, operator: str, code: str
) -> None:
    made, _ = queue.submit("a", ISSUER, "s1", "full name")
    before = store.tail(50)
    for act in (queue.approve, queue.refuse):
        with refused(code):
            act(request_id, operator)
    assert queue.pending() == [made]
    assert store.tail(50) == before
    assert queue.pending(limit=10**9) == [made]  # a huge limit is capped, not an error


# -- the broker -----------------------------------------------------------------------------


def _world(tmp_path: Path, *, queue: bool, anna_snils: str | None = None) -> World:
    accounts = sample_accounts()
    if anna_snils is not None:
        accounts = [
            attrs.evolve(a, snils=anna_snils) if a.account_id == "a-anna" else a for a in accounts
        ]
    return build_world(
        tmp_path, accounts=accounts, policy=BrokerPolicy(queue_mismatched_links=queue)
    )


def _answer(world: World, redirect: Redirect, oid: int) -> dict[str, str]:
    """Follow ``redirect`` at the mock IdP, logging ``oid`` in: the answer the browser
    brings back to the broker (an OIDC callback's query)."""
    http = world.http
    http.cookies.clear()
    response = http.get(redirect.url.removeprefix(BASE))
    txn = re.search(r'name="txn" value="([^"]+)"', response.text)
    assert txn is not None, response.text
    http.post(
        "/login", data={"txn": txn.group(1), "login": LOGINS[oid], "password": PASSWORDS[oid]}
    )
    if oid in TOTP_SECRETS:
        world.clock.advance(timedelta(seconds=30))
        code = totp(decode_secret(TOTP_SECRETS[oid]), int(world.clock.now().timestamp()))
    else:
        code = world.idp.last_code()
    response = http.post("/login/code", data={"txn": txn.group(1), "code": code})
    assert response.status_code in (302, 303), response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


def _link_marias_identity_to_anna(world: World) -> object:
    """Anna, signed in to her school account, links; Maria's identity comes back."""
    client = world.client("pc")
    anna = world.local_login("sch1", "kuznetsova", client)
    redirect = world.broker.begin_link(anna.token, "esia", client)
    return world.broker.finish("esia", _answer(world, redirect, MARIA), client)


def test_a_mismatched_link_from_settings_is_queued_when_enabled(tmp_path: Path) -> None:
    world = _world(tmp_path, queue=True)
    result = _link_marias_identity_to_anna(world)
    assert isinstance(result, LinkRequested)
    kept = result.request
    assert (kept.account_id, kept.subject, kept.differing) == ("a-anna", str(MARIA), "full name")
    assert world.store.pending() == [kept]
    assert world.store.links_for_account("a-anna") == []
    actions = [e.action for e in world.store.tail(5)]
    assert actions[-2:] == [AuditAction.LINK_REFUSED, AuditAction.LINK_REQUESTED]
    again = _link_marias_identity_to_anna(world)  # asking again: the same request
    assert isinstance(again, LinkRequested) and again.request == kept
    assert world.store.pending() == [kept]


def test_a_mismatched_link_is_only_refused_when_queueing_is_off(tmp_path: Path) -> None:
    world = _world(tmp_path, queue=False)
    with refused("link.identity_mismatch"):
        _link_marias_identity_to_anna(world)
    assert world.store.pending() == []
    assert AuditAction.LINK_REQUESTED not in {e.action for e in world.store.tail(50)}


def test_a_snils_conflict_is_never_queued(tmp_path: Path) -> None:
    world = _world(tmp_path, queue=True, anna_snils="112-233-445 95")
    with refused("link.snils_conflict"):
        _link_marias_identity_to_anna(world)
    assert world.store.pending() == []
    assert AuditAction.LINK_REQUESTED not in {e.action for e in world.store.tail(50)}


def test_queueing_needs_a_store_that_keeps_requests(tmp_path: Path) -> None:
    world = _world(tmp_path, queue=False)
    broker = world.broker

    class Links:  # only the LinkStore methods
        def __getattr__(self, name: str) -> object:
            if name in {"add", "pending", "consume", "expire", "erase_account", "get"}:
                raise AttributeError(name)
            return getattr(world.store, name)

    with pytest.raises(ConfigError, match="link requests"):
        type(broker)(
            directory=world.store,
            links=Links(),  # type: ignore[arg-type]
            audit=world.store,
            store=world.ephemeral,
            credentials=world.credentials,
            sender=world.sender,
            secret=bytes(32),
            policy=BrokerPolicy(queue_mismatched_links=True),
        )


def test_a_request_id_survives_the_audit_trails_masking() -> None:
    """The trail masks runs of four digits in ``detail``, where the id is written: ids have
    no digits, so every refusal's record names its request in full."""
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and check_request_id(i) == i for i in ids)
    assert all(redact(f"request {i}") == f"request {i}" for i in ids)
