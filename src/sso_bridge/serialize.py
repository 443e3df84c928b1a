"""Plain-JSON forms of the value types, for the CLI and for embedding applications.

Nothing here ever emits a SNILS or passport number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sso_bridge.errors import IdentityError, InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.matching.normalize import parse_date
from sso_bridge.model import (
    AuditEvent,
    Candidate,
    FederatedIdentity,
    Link,
    LocalAccount,
    MatchDecision,
    Organisation,
)

IDENTITY_FIELDS = frozenset(
    {
        "issuer",
        "subject",
        "verified",
        "last_name",
        "first_name",
        "middle_name",
        "birth_date",
        "snils",
        "passport",
        "email",
        "phone",
    }
)


def identity_from_json(data: Any) -> FederatedIdentity:
    """A :class:`FederatedIdentity` from a JSON object; raises ``identity.*`` errors."""
    if not isinstance(data, Mapping):
        raise IdentityError("the identity must be a JSON object", code="identity.invalid")
    unknown = sorted(set(data) - IDENTITY_FIELDS)
    if unknown:
        raise IdentityError(
            f"unknown identity field(s): {', '.join(unknown)}", code="identity.unknown_field"
        )
    for name in IDENTITY_FIELDS - {"verified"}:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise IdentityError(f"{name} must be a string", code="identity.invalid")
    verified = data.get("verified", False)
    if not isinstance(verified, bool):
        raise IdentityError("verified must be true or false", code="identity.invalid")
    birth = data.get("birth_date")
    return FederatedIdentity(
        issuer=data.get("issuer") or "",
        subject=data.get("subject") or "",
        verified=verified,
        last_name=data.get("last_name"),
        first_name=data.get("first_name"),
        middle_name=data.get("middle_name"),
        birth_date=parse_date(birth) if birth else None,
        snils=data.get("snils"),
        passport=data.get("passport"),
        email=data.get("email"),
        phone=data.get("phone"),
        claims=dict(data),
    )


def identity_from_text(text: bytes | str) -> FederatedIdentity:
    """A :class:`FederatedIdentity` from JSON text (bytes in UTF-8); ``identity.bad_json``
    for anything that is not bounded, well-formed JSON."""
    try:
        data = parse_json(text)
    except InvalidInput as exc:
        raise IdentityError(exc.message, code="identity.bad_json") from None
    return identity_from_json(data)


def full_name(last: str, first: str, middle: str | None) -> str:
    return " ".join(p for p in (last, first, middle) if p)


def account_json(account: LocalAccount, organisation: Organisation | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "account_id": account.account_id,
        "org_id": account.org_id,
    }
    if organisation is not None:
        out["org_name"] = organisation.name
    out.update(
        {
            "login": account.login,
            "roles": list(account.roles),
            "last_name": account.last_name,
            "first_name": account.first_name,
            "middle_name": account.middle_name,
            "birth_date": None if account.birth_date is None else account.birth_date.isoformat(),
            "status": account.status.value,
        }
    )
    return out


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    out = account_json(candidate.account, candidate.organisation)
    out["matched_on"] = [k.value for k in candidate.matched_on]
    out["already_linked"] = candidate.already_linked
    out["notes"] = list(candidate.notes)
    return out


def decision_json(decision: MatchDecision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome.value,
        "candidates": [candidate_json(c) for c in decision.candidates],
        "rejected": [
            {"account_id": r.account_id, "org_id": r.org_id, "reason": r.reason.value}
            for r in decision.rejected
        ],
        "warnings": list(decision.warnings),
    }


def link_json(link: Link) -> dict[str, Any]:
    return {
        "issuer": link.issuer,
        "subject": link.subject,
        "account_id": link.account_id,
        "method": link.method.value,
        "created_at": link.created_at.isoformat(),
        "created_by": link.created_by,
        "ip": link.ip,
    }


def _plain(value: Any) -> Any:
    # enum members as their values; anything else (only an edited row) as it is
    return None if value is None else str(value)


def audit_json(event: AuditEvent) -> dict[str, Any]:
    at = event.at
    return {
        "event_id": event.event_id,
        "at": at.isoformat() if isinstance(at, datetime) else _plain(at),
        "action": _plain(event.action),
        "actor": event.actor,
        "method": _plain(event.method),
        "issuer": event.issuer,
        "subject": event.subject,
        "account_id": event.account_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "code": event.code,
        "detail": event.detail,
        "chain_hash": event.chain_hash,
        "purged": sorted(event.purged),
    }
