"""Everything the broker holds about one person, as a JSON-able dict (an access request).

Never in it: SNILS or passport hashes, the name key, password hashes, authenticator
secrets, recovery code hashes, session tokens or their hashes, ID tokens. Contacts for
one-time codes are masked as the login pages show them, since the export passes through
an operator's hands.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, Final

import attrs

from sso_bridge.mfa.challenges import mask_destination
from sso_bridge.mfa.limits import LOCK_KIND
from sso_bridge.model import AuditAction, AuditEvent, Link
from sso_bridge.privacy.person import Person, check_operator
from sso_bridge.privacy.sql import PersonRows
from sso_bridge.privacy.stores import PersonStores
from sso_bridge.serialize import account_json, audit_json, link_json
from sso_bridge.sessions.model import Session

__all__ = ["EXPORT_FORMAT", "export_person", "in_scope"]

EXPORT_FORMAT: Final = 1
"""The version of the export's shape; raised when a field changes meaning."""

_MAX_RECORDS: Final = 10_000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def in_scope(stores: PersonStores, person: Person) -> tuple[list[str], list[Link]]:
    """The accounts and the links a request about ``person`` reaches: the account and its
    links, or the federated identity's links and the accounts they lead to."""
    store = stores.store
    if person.account_id is not None:
        return [person.account_id], store.links_for_account(person.account_id)
    found = store.links_for_subject(*person.pair)
    return sorted({link.account_id for link in found}), found


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "account_id": session.account_id,
        "method": session.method,
        "issuer": session.issuer,
        "subject": session.subject,
        "accounts": list(session.accounts),
        "ip": session.ip,
        "user_agent": session.user_agent,
        "created_at": session.created_at.isoformat(),
        "last_seen_at": session.last_seen_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "idle_expires_at": session.idle_expires_at.isoformat(),
        "second_factor": session.second_factor,
    }


def _account_json(stores: PersonStores, account_id: str, now: datetime) -> dict[str, Any]:
    store = stores.store
    account = store.get_account(account_id)
    organisation = None if account is None else store.get_organisation(account.org_id)
    out: dict[str, Any] = {
        "account_id": account_id,
        "record": None if account is None else account_json(account, organisation),
        "password": None,
        "second_factor": None,
    }
    credentials = None if stores.credentials is None else stores.credentials.get(account_id)
    if credentials is not None and stores.credentials is not None:
        out["password"] = {
            "set": credentials.password_hash is not None,
            "set_at": _plain(credentials.password_set_at),
            "failed_logins": credentials.failed_logins,
            "locked": credentials.locked(now),
            "locked_at": _plain(credentials.locked_at),
            "locked_until": _plain(credentials.locked_until),
        }
        codes = stores.credentials.recovery_code_hashes(account_id)
        out["second_factor"] = {
            "totp_enrolled": credentials.totp_enrolled,
            "phone": None if not credentials.phone else mask_destination("sms", credentials.phone),
            "email": None
            if not credentials.email
            else mask_destination("email", credentials.email),
            "recovery_codes_left": len(codes),
        }
    if stores.ephemeral is not None:
        lock = stores.ephemeral.get(LOCK_KIND, account_id, now)
        out["second_factor_locked"] = lock is not None
    return out


def _audit_records(stores: PersonStores, person: Person) -> list[AuditEvent]:
    if person.account_id is not None:
        return stores.store.records_of(account_ids=[person.account_id], limit=_MAX_RECORDS)
    return stores.store.records_of(subjects=[person.pair], limit=_MAX_RECORDS)


def _requests(stores: PersonStores, person: Person) -> list[dict[str, Any]] | None:
    queue = stores.link_requests
    if queue is None or not hasattr(queue, "pending"):
        return None
    if person.account_id is not None:
        found = queue.pending(account_id=person.account_id, limit=_MAX_RECORDS)
    else:
        found = [
            r
            for r in queue.pending(limit=_MAX_RECORDS)
            if (r.issuer, r.subject) == (person.issuer, person.subject)
        ]
    return [{f.name: _plain(getattr(r, f.name)) for f in attrs.fields(type(r))} for r in found]


def export_person(stores: PersonStores, person: Person, operator: str) -> dict[str, Any]:
    """Everything held about ``person`` (see the module docstring), and a
    ``person_exported`` audit record by ``operator``.

    ``sessions`` and the second-factor lock need the short-lived store, the password and
    second factor the credential store, ``link_requests`` the queue: what was not given is
    ``null``. Sessions of a federated identity are the ones it started.
    """
    operator = check_operator(operator)
    now = stores.clock.now()
    account_ids, links = in_scope(stores, person)
    rows = PersonRows(stores.store)
    if person.account_id is not None:
        hidden = rows.hidden(account_id=person.account_id)
    else:
        hidden = rows.hidden(issuer=person.issuer, subject=person.subject)
    sessions: list[dict[str, Any]] | None = None
    if stores.sessions is not None:
        sessions = [
            _session_json(s)
            for account_id in account_ids
            for s in stores.sessions.sessions_of(account_id, now)
            if person.subject is None or (s.issuer, s.subject) == (person.issuer, person.subject)
        ]
    records = _audit_records(stores, person)
    export = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "person": person.as_json(),
        "accounts": [_account_json(stores, a, now) for a in account_ids],
        "links": [link_json(link) for link in links],
        "hidden_accounts": hidden,
        "sessions": sessions,
        "link_requests": _requests(stores, person),
        "audit": [audit_json(e) for e in records],
    }
    stores.store.record(
        AuditEvent(
            AuditAction.PERSON_EXPORTED,
            now,
            operator,
            account_id=person.account_id,
            issuer=person.issuer,
            subject=person.subject,
            detail=f"{len(records)} audit records, {len(links)} links",
        )
    )
    return export
