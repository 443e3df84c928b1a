"""A small world for the export and erasure tests: person P with two accounts at two
schools, both linked to one federated identity, and another person Q; each with
sessions, credentials, kept requests, login steps, challenges, limits, hidden accounts
and audit records, in a SQL store (SQLite or PostgreSQL) and a short-lived store
(SQL, in memory or Redis)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import attrs
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS
from helpers.clock import FixedClock
from sso_bridge.broker.codec import encode_state
from sso_bridge.broker.machine.states import ChoosingAccount, Frame, Person, StepIdentity
from sso_bridge.broker.steps import STEP_KIND, browser_hash
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.matching.keys import identity_keys
from sso_bridge.mfa.challenges import CodeChallenges
from sso_bridge.mfa.limits import Limit, LimitPolicy, SecondFactorBudget
from sso_bridge.mfa.sender import OutboxSender
from sso_bridge.model import (
    AuditAction,
    AuditEvent,
    FederatedIdentity,
    IdpSession,
    Link,
    LinkMethod,
    LocalAccount,
)
from sso_bridge.privacy import PersonStores
from sso_bridge.sessions import RequestKeeper, SavedRequest, SessionManager, SessionPolicy
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_credentials import SqlCredentialStore

CSRF = bytes(range(1, 33))


@attrs.define
class World:
    store: SqlStore
    ephemeral: EphemeralStore
    clock: FixedClock
    stores: PersonStores
    sessions: SessionManager
    credentials: SqlCredentialStore
    tag: str
    p_subject: str
    q_subject: str
    a1: LocalAccount
    a2: LocalAccount
    q: LocalAccount
    extra: dict[str, Any] = attrs.Factory(dict)

    def needles_of_a1(self) -> list[str]:
        """What only A1 carries: its id, its login, the middle name only A1's entry has."""
        assert self.a1.login is not None and self.a1.middle_name is not None
        return [self.a1.account_id, self.a1.login, self.a1.middle_name]


def _identity(tag: str, subject: str) -> FederatedIdentity:
    return FederatedIdentity(
        issuer=ISSUER,
        subject=subject,
        verified=True,
        last_name="Добронравова",
        first_name="Евлампия",
        middle_name=f"Онуфриевна{tag}",
        birth_date=date(1979, 5, 17),
    )


def _event(world_now: Any, action: AuditAction, **kw: Any) -> AuditEvent:
    return AuditEvent(action, world_now, "broker", **kw)


def build(db_url: str, ephemeral: EphemeralStore) -> World:
    """Open the store at ``db_url`` and fill it and ``ephemeral`` with P's and Q's data."""
    tag = secrets.token_hex(4)
    clock = FixedClock()
    now = clock.now()
    store = open_store(db_url, KEY)
    store.import_accounts([], ORGS)
    a1 = LocalAccount(
        f"a1-{tag}",
        "sch1",
        "Добронравова",
        "Евлампия",
        f"Онуфриевна{tag}",
        login=f"dobro-{tag}",
        birth_date=date(1979, 5, 17),
        snils="112-233-445 95",
        passport="4509 123456",
    )
    a2 = LocalAccount(
        f"a2-{tag}",
        "sch2",
        "Добронравова",
        "Евлампия",
        None,
        login=f"evl-{tag}",
        birth_date=date(1979, 5, 17),
    )
    q = LocalAccount(
        f"q-{tag}",
        "sch1",
        "Кузнецов",
        "Иван",
        "Сергеевич",
        login=f"kuz-{tag}",
        birth_date=date(1990, 1, 2),
    )
    store.import_accounts([a1, a2, q])
    p_subject, q_subject = f"p-subject-{tag}", f"q-subject-{tag}"
    for subject, account in ((p_subject, a1), (p_subject, a2), (q_subject, q)):
        link = Link(ISSUER, subject, account.account_id, LinkMethod.AUTO, now, "broker", "10.0.0.5")
        store.create_link(
            link,
            _event(
                now,
                AuditAction.LINK,
                issuer=ISSUER,
                subject=subject,
                account_id=account.account_id,
                ip="10.0.0.5",
                method=LinkMethod.AUTO,
            ),
        )
    # P asked not to be offered A1 once (from A2's side), Q hid nothing; A2 hidden from Q
    store.hide_account(
        ISSUER,
        p_subject,
        a1.account_id,
        _event(
            now,
            AuditAction.ACCOUNT_HIDDEN,
            issuer=ISSUER,
            subject=p_subject,
            account_id=a1.account_id,
        ),
    )
    store.hide_account(
        ISSUER,
        q_subject,
        q.account_id,
        _event(
            now,
            AuditAction.ACCOUNT_HIDDEN,
            issuer=ISSUER,
            subject=q_subject,
            account_id=q.account_id,
        ),
    )

    credentials = SqlCredentialStore(store.engine, KEY)
    for account, phone in (
        (a1, "+7 900 111-22-33"),
        (a2, "+7 900 444-55-66"),
        (q, "+7 901 000-00-01"),
    ):
        credentials.set_password(account.account_id, "$argon2id$v=19$m=65536,t=3,p=4$x$y", now)
        credentials.set_totp(account.account_id, secrets.token_bytes(20))
        credentials.set_contacts(
            account.account_id, phone=phone, email=f"{account.login}@mail.example"
        )
        credentials.set_recovery_codes(
            account.account_id, [secrets.token_bytes(40) for _ in range(3)]
        )
    credentials.record_failed_login(a1.account_id, now, 5, timedelta(minutes=15))

    sessions = SessionManager(ephemeral, SessionPolicy(), CSRF)
    both = (a1.account_id, a2.account_id)
    idp = IdpSession("esia", sid=f"sid-p-{tag}")
    for account_id in both:
        sessions.start(
            account_id,
            ip="192.0.2.10",
            user_agent=f"agent-p-{tag}",
            now=now,
            issuer=ISSUER,
            subject=p_subject,
            accounts=both,
            idp=idp,
        )
    sessions.start(
        a1.account_id, ip="192.0.2.11", user_agent=f"agent-p-{tag}", now=now, method="local"
    )
    sessions.start(
        q.account_id,
        ip="198.51.100.7",
        user_agent=f"agent-q-{tag}",
        now=now,
        issuer=ISSUER,
        subject=q_subject,
        idp=IdpSession("esia", sid=f"sid-q-{tag}"),
    )

    keeper = RequestKeeper(ephemeral, CSRF)
    for account in (a1, q):
        request = SavedRequest(
            "POST", "/journal", (("note", account.last_name),), account.account_id
        )
        keeper.keep(request, browser_id=f"browser-{account.account_id}", now=now)

    # a login of P in progress: choosing between A1 and A2 (a pending step naming both)
    identity = _identity(tag, p_subject)
    step = ChoosingAccount(
        Frame(browser_hash(f"browser-p-{tag}"), now, now + timedelta(minutes=10)),
        Person(StepIdentity.of(identity, identity_keys(identity, store.blind_index)[0]), False),
        both,
        (),
        linking=True,
    )
    ephemeral.put(
        STEP_KIND,
        f"step-p-{tag}",
        encode_state(step),
        step.frame.expires_at,
        now,
        owner=step.frame.browser,
    )
    q_identity = attrs.evolve(
        identity,
        subject=q_subject,
        last_name="Кузнецов",
        first_name="Иван",
        middle_name="Сергеевич",
        birth_date=date(1990, 1, 2),
    )
    q_step = attrs.evolve(
        step,
        person=Person(
            StepIdentity.of(q_identity, identity_keys(q_identity, store.blind_index)[0]), False
        ),
        offered=(q.account_id,),
    )
    ephemeral.put(STEP_KIND, f"step-q-{tag}", encode_state(q_step), step.frame.expires_at, now)

    # a code challenge (counted per account and per phone), a spent second-factor budget
    challenges = CodeChallenges(ephemeral, OutboxSender(), KEY)
    challenges.start(a1.account_id, "sms", "+7 900 111-22-33", now, owner="browser-x")
    challenges.start(q.account_id, "sms", "+7 901 000-00-01", now, owner="browser-y")
    budget = SecondFactorBudget(
        ephemeral, LimitPolicy(second_factor_failures=Limit(2, timedelta(hours=1)))
    )
    for account_id in (a1.account_id, a1.account_id, q.account_id, q.account_id):
        budget.failed(account_id, now)

    for account, subject in ((a1, p_subject), (a2, p_subject), (q, q_subject)):
        store.record(
            _event(
                now,
                AuditAction.LOGIN,
                issuer=ISSUER,
                subject=subject,
                account_id=account.account_id,
                ip="192.0.2.10",
                user_agent=f"agent-{account.account_id}",
            )
        )
    store.record(
        _event(
            now,
            AuditAction.LOGIN_REFUSED,
            issuer=ISSUER,
            subject=p_subject,
            ip="192.0.2.12",
            code="broker.no_match",
        )
    )

    requests = store if hasattr(store, "pending") and hasattr(store, "erase_account") else None
    events: Any = None
    try:
        from sso_bridge.store.sql_events import SqlEventStore  # noqa: PLC0415

        events = SqlEventStore(store.engine)
    except ImportError:  # pragma: no cover - before the event outbox exists
        pass
    stores = PersonStores(
        store=store,
        credentials=credentials,
        ephemeral=ephemeral,
        sessions=sessions,
        link_requests=requests,
        events=events,
        clock=clock,
    )
    world = World(
        store, ephemeral, clock, stores, sessions, credentials, tag, p_subject, q_subject, a1, a2, q
    )
    _add_link_request(world)
    return world


def _add_link_request(world: World) -> None:
    """A link request queued for A1 (when the store keeps link requests)."""
    add = getattr(world.store, "add", None)
    if add is None:
        return
    from sso_bridge.linking.requests import LinkRequest  # noqa: PLC0415

    request = LinkRequest(
        request_id=f"lr-{world.tag}",
        account_id=world.a1.account_id,
        issuer=ISSUER,
        subject=world.p_subject,
        differing="birth_date",
        created_at=world.clock.now(),
        ip="192.0.2.10",
    )
    add(request)
    world.extra["link_request"] = request.request_id


def table_rows(engine: sa.Engine) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every row of every table of the database (of the search path, on PostgreSQL)."""
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                yield table, tuple(row)


def holds(value: Any, needle: str) -> bool:
    """Whether one stored value holds ``needle``, as text or as UTF-8 bytes."""
    if value is None:
        return False
    if isinstance(value, bytes | bytearray | memoryview):
        return needle.encode() in bytes(value)
    return needle in str(value)


def found_in_tables(engine: sa.Engine, needles: list[str]) -> list[str]:
    """``table: needle`` for every row of every table holding one of ``needles``."""
    return [
        f"{table}: {needle} in {row!r}"[:300]
        for table, row in table_rows(engine)
        for needle in needles
        if any(holds(value, needle) for value in row)
    ]
