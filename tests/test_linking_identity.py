"""Linking from settings takes only an identity that agrees with the account: the same
full name as matching normalises it, and the same birth date and passport wherever both
sides have one (issue 19, finding 1). A refusal names the field, never the values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from helpers.accounts import ISSUER, make_account
from helpers.clock import FixedClock
from sso_bridge.errors import LinkRefused
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.linker import IdentityMismatch, disagreement
from sso_bridge.matching import identity_keys
from sso_bridge.matching.keys import BlindIndex
from sso_bridge.model import AuditAction, FederatedIdentity, LinkMethod
from sso_bridge.store.sql import SqlStore

MOMENT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
CTX = RequestContext("web", "203.0.113.7")


def person(subject: str = "1000001", **kw: object) -> FederatedIdentity:
    fields: dict[str, object] = {
        "verified": False,
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


def test_someone_elses_unconfirmed_identity_is_not_linked_from_settings(
    store: SqlStore, linker: Linker
) -> None:
    """Signed in as A (Смирнова), the IdP brings back B's unconfirmed identity (no SNILS):
    refused, audited, nothing linked."""
    store.import_accounts([make_account("a")])
    b = person("2000002", last_name="Кузнецов", first_name="Олег", middle_name=None)
    with pytest.raises(IdentityMismatch) as exc:
        linker.link_from_settings(b, "a", CTX)
    assert exc.value.code == "link.identity_mismatch"
    assert isinstance(exc.value, LinkRefused)
    assert store.list_links() == []
    [event] = store.tail()
    assert (event.action, event.method, event.account_id, event.subject) == (
        AuditAction.LINK_REFUSED,
        LinkMethod.SETTINGS,
        "a",
        "2000002",
    )
    assert event.code == "link.identity_mismatch"
    assert event.detail is not None and "full name" in event.detail
    assert "Кузнецов" not in event.detail and "Смирнова" not in event.detail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "Марина"}, "full name"),
        ({"middle_name": "Ивановна"}, "full name"),
        ({"last_name": None}, "full name"),
        ({"birth_date": date(1984, 3, 13)}, "birth date"),
        ({"passport": "4510 123457"}, "passport"),
    ],
)
def test_each_disagreeing_field_is_refused_and_named(
    store: SqlStore, linker: Linker, changes: dict[str, object], field: str
) -> None:
    store.import_accounts([make_account("a", passport="4510 123456")])
    with pytest.raises(IdentityMismatch, match=field):
        linker.link_from_settings(person(**changes), "a", CTX)
    assert store.list_links() == []
    assert store.tail()[-1].detail == f"the identity's {field} differs from the account's"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"last_name": "СМИРНОВА", "first_name": "мария"},  # case
        {"last_name": "Cмирнова"},  # a Latin look-alike C
        {"middle_name": None},  # absent on one side
        {"birth_date": None},  # absent on one side
    ],
)
def test_an_identity_that_agrees_as_matching_normalises_it_is_linked(
    store: SqlStore, linker: Linker, changes: dict[str, object]
) -> None:
    store.import_accounts([make_account("a")])  # no passport on the account
    result = linker.link_from_settings(person(passport="4510 123457", **changes), "a", CTX)
    assert result.created and result.link.method is LinkMethod.SETTINGS


def test_the_account_without_a_birth_date_is_compared_on_the_name() -> None:
    index = BlindIndex(b"k" * 32)
    one, _ = identity_keys(person(), index)
    other, _ = identity_keys(person(birth_date=None), index)
    assert disagreement(one, other) is None
    assert disagreement(one, identity_keys(person(first_name="Ольга"), index)[0]) == "full name"


def test_a_local_login_link_keeps_its_rules(store: SqlStore, linker: Linker) -> None:
    """The check is the settings link's: after a local login the person proved the account."""
    store.import_accounts([make_account("a")])
    result = linker.link_after_local_login(person(first_name="Марина"), "a", CTX)
    assert result.created
