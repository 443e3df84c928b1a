"""Linking rules (docs/matching.md): who may link what, one transaction each, all audited."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

from helpers.accounts import ISSUER, make_account
from helpers.clock import FixedClock
from sso_bridge.errors import AccountNotFound, BridgeError, LinkConflict, LinkNotFound, LinkRefused
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.model import AccountStatus, AuditAction, FederatedIdentity, LinkMethod
from sso_bridge.store.sql import SqlStore

MOMENT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
CTX = RequestContext("person:1000001", "203.0.113.7")
SNILS_A = "112-233-445 95"
SNILS_B = "123-456-789 64"


def person(subject: str = "1000001", **kw: object) -> FederatedIdentity:
    fields: dict[str, object] = {
        "verified": True,
        "last_name": "Смирнова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": date(1984, 3, 12),
    }
    fields.update(kw)
    return FederatedIdentity(ISSUER, subject, **fields)  # type: ignore[arg-type]


@pytest.fixture
def linker(store: SqlStore) -> Linker:
    return Linker(store, store, store, FixedClock(MOMENT))


def test_auto_link_links_the_only_candidate(store: SqlStore, linker: Linker) -> None:
    store.import_accounts([make_account("t1"), make_account("x", last_name="Другая")])
    result = linker.link_auto(person(), CTX)
    assert result.created
    assert (result.link.account_id, result.link.method) == ("t1", LinkMethod.AUTO)
    assert result.link.created_by == CTX.actor
    assert result.link.ip == CTX.ip
    [event] = store.tail()
    assert (event.action, event.method, event.account_id) == (
        AuditAction.LINK,
        LinkMethod.AUTO,
        "t1",
    )
    assert (event.actor, event.ip, event.subject) == (CTX.actor, CTX.ip, "1000001")
    assert event.at == FixedClock(MOMENT).now()


@pytest.mark.parametrize(
    ("accounts", "identity"),
    [
        ([make_account("t1"), make_account("p1", "sch2")], person()),  # CHOOSE
        ([], person()),  # NO_MATCH
        ([make_account("t1")], person(verified=False)),  # LOCAL_LOGIN_REQUIRED
    ],
)
def test_auto_link_refuses_anything_but_one_candidate(
    store: SqlStore,
    linker: Linker,
    accounts: list,
    identity: FederatedIdentity,  # type: ignore[type-arg]
) -> None:
    store.import_accounts(accounts)
    with pytest.raises(LinkRefused) as exc:
        linker.link_auto(identity, CTX)
    assert exc.value.code == "link.not_automatic"
    assert store.list_links() == []
    [event] = store.tail()
    assert event.action is AuditAction.LINK_REFUSED
    assert event.code == "link.not_automatic"


def test_chosen_link_must_be_a_current_candidate(store: SqlStore, linker: Linker) -> None:
    store.import_accounts(
        [make_account("t1"), make_account("p1", "sch2"), make_account("n1", snils=SNILS_B)]
    )
    identity = person(snils=SNILS_A)
    with pytest.raises(LinkRefused) as exc:
        linker.link_chosen(identity, "n1", CTX)  # a namesake: vetoed by SNILS
    assert exc.value.code == "link.not_a_candidate"
    assert linker.link_chosen(identity, "p1", CTX).link.method is LinkMethod.CHOSEN
    # still a CHOOSE; the person may link the second account too
    assert linker.link_chosen(identity, "t1", CTX).created
    assert {x.account_id for x in store.links_for_subject(ISSUER, "1000001")} == {"t1", "p1"}


def test_chosen_link_rechecks_at_link_time(store: SqlStore, linker: Linker) -> None:
    store.import_accounts([make_account("t1"), make_account("p1", "sch2")])
    store.import_accounts([make_account("p1", "sch2", status=AccountStatus.BLOCKED)])
    with pytest.raises(LinkRefused) as exc:
        linker.link_chosen(person(), "p1", CTX)
    assert exc.value.code == "link.not_a_candidate"


def test_unverified_identity_cannot_choose(store: SqlStore, linker: Linker) -> None:
    store.import_accounts([make_account("t1"), make_account("p1", "sch2")])
    with pytest.raises(LinkRefused) as exc:
        linker.link_chosen(person(verified=False), "t1", CTX)
    assert exc.value.code == "link.not_verified"
    assert store.list_links() == []


@pytest.mark.parametrize(
    ("method_name", "method"),
    [
        ("link_after_local_login", LinkMethod.LOCAL_LOGIN),
        ("link_from_settings", LinkMethod.SETTINGS),
    ],
)
def test_owned_links_work_for_any_assurance_level(
    store: SqlStore, linker: Linker, method_name: str, method: LinkMethod
) -> None:
    # a name that differs is fine after a local login; from settings it is refused
    # (tests/test_linking_identity.py)
    last_name = "Иванова" if method is LinkMethod.LOCAL_LOGIN else "Смирнова"
    store.import_accounts([make_account("t1", last_name=last_name)])
    result = getattr(linker, method_name)(person(verified=False), "t1", CTX)
    assert result.created
    assert result.link.method is method
    assert store.tail()[-1].method is method


@pytest.mark.parametrize("method_name", ["link_after_local_login", "link_from_settings"])
def test_owned_links_refuse_blocked_conflicting_or_missing_accounts(
    store: SqlStore, linker: Linker, method_name: str
) -> None:
    store.import_accounts(
        [
            make_account("blocked", status=AccountStatus.BLOCKED),
            make_account("other-snils", snils=SNILS_B),
        ]
    )
    link = getattr(linker, method_name)
    cases = [
        ("blocked", "link.account_blocked"),
        ("other-snils", "link.snils_conflict"),
        ("ghost", "account.not_found"),
    ]
    for account_id, code in cases:
        with pytest.raises(BridgeError) as exc:
            link(person(verified=False, snils=SNILS_A), account_id, CTX)
        assert exc.value.code == code
    assert store.list_links() == []
    assert [e.code for e in store.tail()] == [code for _, code in cases]
    with pytest.raises(AccountNotFound):
        link(person(), "ghost", CTX)


def test_one_account_has_at_most_one_subject_per_issuer(store: SqlStore, linker: Linker) -> None:
    store.import_accounts([make_account("t1")])
    linker.link_after_local_login(person("A"), "t1", CTX)
    with pytest.raises(LinkConflict):
        linker.link_after_local_login(person("B"), "t1", CTX)
    with pytest.raises(LinkConflict):
        linker.link_admin(ISSUER, "B", "t1", CTX)
    assert [x.subject for x in store.list_links()] == ["A"]
    assert store.tail()[-1].code == "link.conflict"
    # and matching now vetoes t1 for B
    with pytest.raises(LinkRefused):
        linker.link_auto(person("B"), CTX)


def test_admin_link_and_unlink(store: SqlStore, linker: Linker) -> None:
    store.import_accounts([make_account("b1", status=AccountStatus.BLOCKED)])
    admin = RequestContext("admin:olga", None)
    assert linker.link_admin(ISSUER, "S", "b1", admin).created
    assert not linker.link_admin(ISSUER, "S", "b1", admin).created  # idempotent
    removed = linker.unlink(ISSUER, "S", "b1", admin)
    assert removed.subject == "S"
    with pytest.raises(LinkNotFound):
        linker.unlink(ISSUER, "S", "b1", admin)
    actions = [(e.action, e.method, e.actor) for e in store.tail()]
    assert actions == [
        (AuditAction.LINK, LinkMethod.ADMIN, "admin:olga"),
        (AuditAction.UNLINK, LinkMethod.ADMIN, "admin:olga"),
    ]


def test_link_and_audit_are_one_transaction(
    store: SqlStore, linker: Linker, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_accounts([make_account("t1")])

    def broken_audit(*_: object) -> int:
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(store, "_record", broken_audit)
    with pytest.raises(RuntimeError):
        linker.link_admin(ISSUER, "S", "t1", CTX)
    monkeypatch.undo()
    assert store.list_links() == []  # the link was rolled back with the audit event


def _race(n: int, work) -> list[object]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_links_of_the_same_pair_leave_exactly_one(
    store: SqlStore, linker: Linker
) -> None:
    store.import_accounts([make_account("t1")])
    results = _race(12, lambda _: linker.link_auto(person(), CTX))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sum(r.created for r in results) == 1  # type: ignore[attr-defined]
    assert len(store.list_links()) == 1
    assert [e.action for e in store.tail(100)] == [AuditAction.LINK]


def test_concurrent_links_of_different_subjects_leave_exactly_one(
    store: SqlStore, linker: Linker
) -> None:
    store.import_accounts([make_account("t1")])
    results = _race(12, lambda i: linker.link_admin(ISSUER, f"subject-{i}", "t1", CTX))
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, LinkConflict) for r in results if isinstance(r, Exception))
    assert len(store.list_links()) == 1
