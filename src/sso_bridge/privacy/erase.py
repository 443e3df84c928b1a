"""Erasing one person (an erasure request): what the broker holds about an account or a
federated identity, then one ``erasure`` audit record that names neither.

By account: its sessions (and their IdP index entries; it leaves the switcher of the
person's other sessions), kept requests, login steps, challenges and logout steps naming
it, its second-factor lock and per-account counters, its credentials, link requests and
dead letters, then in one transaction its hidden-account rows, links and directory
entry, then the personal values of the audit records naming it.

By federated identity: the sessions it started, the short-lived entries naming its
subject, its link requests and dead letters, then in one transaction its links and
hidden-account rows, then its audit values. The linked accounts stay, with their
credentials: they are the school's records, reached by erasing each account.

Each step is idempotent and the SQL rows go last but the audit trail, so a run that
failed half-way is finished by running it again.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

import attrs

from sso_bridge.model import AuditAction, AuditEvent, Link
from sso_bridge.privacy.export import in_scope
from sso_bridge.privacy.person import Person, check_operator
from sso_bridge.privacy.short_lived import drop_naming, forget_limits
from sso_bridge.privacy.sql import PersonRows
from sso_bridge.privacy.stores import ErasableRecords, PersonStores
from sso_bridge.sessions.kept import discard_account

__all__ = ["ErasureReport", "erase_person"]


@attrs.frozen
class ErasureReport:
    """What one erasure removed, by where it was kept. ``reference`` (random) is the
    only thing the ``erasure`` audit record says about whom it was: file it with the
    request. ``not_reached`` names what this erasure could not reach (a store not given,
    or one without the capability); a count is None there."""

    reference: str
    person: Person
    accounts: int = 0
    links: int = 0
    hidden_accounts: int = 0
    credentials: int | None = None
    sessions: int | None = None
    kept_requests: int | None = None
    short_lived: int | None = None
    second_factor_locks: int | None = None
    link_requests: int | None = None
    dead_letters: int | None = None
    audit_records: int | None = None
    not_reached: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        out["person"] = self.person.as_json()
        out["not_reached"] = list(self.not_reached)
        return out

    def summary(self) -> str:
        """One line of counts, with no personal value (the ``erasure`` record's detail)."""
        counts = attrs.asdict(self, recurse=False)
        parts = [
            f"{name.replace('_', ' ')} {value}"
            for name, value in counts.items()
            if name not in ("reference", "person", "not_reached") and value is not None
        ]
        text = f"erasure {self.reference} of one {self.person.kind}: " + ", ".join(parts)
        if self.not_reached:
            text += "; not reached: " + ", ".join(self.not_reached)
        return text


def _reference() -> str:
    # letters only: the audit trail's redaction masks long runs of digits
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(24))


def _records(holder: Any, person: Person, name: str, missed: list[str]) -> int | None:
    if not isinstance(holder, ErasableRecords):
        missed.append(name)
        return None
    if person.account_id is not None:
        return holder.erase_account(person.account_id)
    return holder.erase_subject(*person.pair)


def _erase_sessions(
    stores: PersonStores,
    person: Person,
    links: list[Link],
    now: datetime,
    found: dict[str, Any],
    missed: list[str],
) -> None:
    sessions = stores.sessions
    if sessions is None:
        missed.append("sessions")
    elif person.account_id is not None:
        # the person's other accounts: the ones linked to the same identities
        others = {
            link.account_id
            for one in links
            for link in stores.store.links_for_subject(one.issuer, one.subject)
        } - {person.account_id}
        found["sessions"] = sessions.erase_account(
            person.account_id, now, offered_by=sorted(others)
        )
    else:
        found["sessions"] = sessions.erase_subject(*person.pair, now)


def _erase_short_lived(
    stores: PersonStores, person: Person, now: datetime, found: dict[str, Any], missed: list[str]
) -> None:
    ephemeral = stores.ephemeral
    if ephemeral is None:
        missed.append("short-lived entries")
        return
    needle = person.account_id if person.account_id is not None else person.pair[1]
    found["short_lived"] = drop_naming(ephemeral, needle, now)
    if person.account_id is not None:
        found["kept_requests"] = discard_account(ephemeral, person.account_id, now)
        found["second_factor_locks"] = forget_limits(ephemeral, person.account_id, now)


def erase_person(stores: PersonStores, person: Person, operator: str) -> ErasureReport:
    """Erase ``person`` (see the module docstring) and write one ``erasure`` audit record
    by ``operator``; the report of what went."""
    operator = check_operator(operator)
    now = stores.clock.now()
    _, links = in_scope(stores, person)
    found: dict[str, Any] = {}
    missed: list[str] = []
    _erase_sessions(stores, person, links, now, found, missed)
    _erase_short_lived(stores, person, now, found, missed)
    if person.account_id is not None:
        if stores.credentials is None:
            missed.append("credentials")
        else:
            found["credentials"] = int(stores.credentials.erase(person.account_id))

    found["link_requests"] = _records(stores.link_requests, person, "link requests", missed)
    found["dead_letters"] = _records(stores.events, person, "event dead letters", missed)

    rows = PersonRows(stores.store)
    if person.account_id is not None:
        found.update(rows.erase_account(person.account_id))
    else:
        found.update(rows.erase_subject(*person.pair))

    trail = stores.store
    if person.account_id is not None:
        found["audit_records"] = trail.erase_values(account_ids=[person.account_id])
    else:
        found["audit_records"] = trail.erase_values(subjects=[person.pair])

    report = ErasureReport(
        reference=_reference(),
        person=person,
        not_reached=tuple(missed),
        **found,
    )
    trail.record(AuditEvent(AuditAction.ERASURE, now, operator, detail=report.summary()))
    return report
