"""The project spells "organisation" the British way; the old spelling keeps working for
one release (docs/design.md, "Spelling: organisation")."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

import sso_bridge
from helpers.accounts import KEY, ORGS
from sso_bridge import model
from sso_bridge.broker.results import AccountOption, LocalLoginForm
from sso_bridge.importing.ports import add_organisations, has_organisation
from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import BlindIndex, account_keys
from sso_bridge.matching.ports import get_organisation, list_organisations
from sso_bridge.model import Candidate, LocalAccount, Organisation
from sso_bridge.store import open_store
from sso_bridge.web import base
from sso_bridge.web.texts import TEXTS

ACCOUNT = LocalAccount("a1", "sch1", "Иванова", "Анна")


class OldDirectory:
    """A directory of a host written against the old method names."""

    def get_organization(self, org_id: str) -> Organisation | None:
        return next((o for o in ORGS if o.org_id == org_id), None)

    def list_organizations(self) -> list[Organisation]:
        return list(ORGS)


class OldWriter:
    """An import transaction of a host written against the old method names."""

    def __init__(self) -> None:
        self.added: list[Organisation] = []

    def add_organizations(self, organizations: Iterable[Organisation]) -> None:
        self.added.extend(organizations)

    def has_organization(self, org_id: str) -> bool:
        return any(o.org_id == org_id for o in self.added)


def test_the_old_class_name_is_the_same_class() -> None:
    assert model.Organization is Organisation
    assert sso_bridge.Organization is sso_bridge.Organisation is Organisation
    assert {"Organisation", "Organization"} <= set(sso_bridge.__all__)


def test_a_directory_with_the_old_method_names_still_works() -> None:
    old = OldDirectory()
    with pytest.warns(DeprecationWarning, match="get_organization is deprecated"):
        assert get_organisation(old, "sch1") == ORGS[0]  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="list_organizations is deprecated"):
        assert list_organisations(old) == list(ORGS)  # type: ignore[arg-type]


def test_an_import_transaction_with_the_old_method_names_still_works() -> None:
    old = OldWriter()
    with pytest.warns(DeprecationWarning, match="add_organizations is deprecated"):
        add_organisations(old, ORGS[:1])  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="has_organization is deprecated"):
        assert has_organisation(old, "sch1")  # type: ignore[arg-type]


def test_a_port_with_neither_name_is_refused() -> None:
    with pytest.raises(AttributeError, match="get_organisation"):
        get_organisation(object(), "sch1")  # type: ignore[arg-type]


def test_the_old_field_names_read_the_new_fields() -> None:
    keys = account_keys(ACCOUNT, BlindIndex(KEY))
    entry = AccountEntry(ACCOUNT, ORGS[0], keys)
    assert entry.organization is entry.organisation is ORGS[0]
    with pytest.warns(DeprecationWarning, match="organisation="):
        old = AccountEntry(ACCOUNT, organization=ORGS[0], keys=keys)
    assert old == entry
    with pytest.raises(TypeError):
        AccountEntry(ACCOUNT, ORGS[0], keys, organization=ORGS[1])
    with pytest.raises(TypeError):
        AccountEntry(ACCOUNT, keys=keys)
    candidate = Candidate(ACCOUNT, ORGS[0], ())
    assert candidate.organization is candidate.organisation
    option = AccountOption("a1", "sch1", "Школа № 1", ())
    assert option.organization == option.organisation == "Школа № 1"
    form = LocalLoginForm("step", "prove", ("sch1",))
    assert form.organizations == form.organisations == ("sch1",)


def test_the_old_constant_and_text_keys() -> None:
    assert base.ORGANIZATION_SCAN == base.ORGANISATION_SCAN
    for old, new in (
        ("organization", "organisation"),
        ("organization_id", "organisation_id"),
        ("choose_organization", "choose_organisation"),
    ):
        assert TEXTS[old] == TEXTS[new]


def test_the_store_keeps_the_old_method_names(sqlite_url: str) -> None:
    store = open_store(sqlite_url, KEY)
    try:
        with pytest.warns(DeprecationWarning, match="organisations_="):
            store.import_accounts([ACCOUNT], organizations_=ORGS)
        assert store.get_organization("sch1") == store.get_organisation("sch1") == ORGS[0]
        assert store.list_organizations() == store.list_organisations()
        with store.bulk_import() as writer:
            writer.add_organizations([Organisation("new", "Новая школа")])
            assert writer.has_organization("new") and writer.has_organisation("new")
    finally:
        store.close()
