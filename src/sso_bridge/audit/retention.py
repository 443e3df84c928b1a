"""How long the audit trail keeps personal values, and purging those past it (docs/audit.md).

A :class:`RetentionPolicy` gives a period per personal field, and per action where an
action keeps some longer; :func:`purge` removes every value older than its period from
a :class:`~sso_bridge.audit.ports.PurgeableLog`, keeping its commitment, so the chain
still verifies. A host schedules :func:`purge` (daily, say); ``sso-bridge purge`` runs it
from the command line.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from sso_bridge.audit.errors import AuditInputError
from sso_bridge.audit.ports import PurgeableLog
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditAction, AuditEvent

__all__ = [
    "DEFAULT_POLICY",
    "KEPT_LONGER",
    "PurgeReport",
    "RetentionPolicy",
    "load_policy",
    "parse_period",
    "purge",
]

_DAY = timedelta(days=1)
_SIX_MONTHS = 183 * _DAY
_ONE_YEAR = 365 * _DAY
_THREE_YEARS = 1096 * _DAY

KEPT_LONGER = frozenset(
    {
        AuditAction.SECURITY,
        AuditAction.LINK,
        AuditAction.UNLINK,
        AuditAction.LINK_REFUSED,
        AuditAction.LINK_REQUESTED,
        AuditAction.LINK_REQUEST_REFUSED,
        AuditAction.UNLOCK,
        AuditAction.CREDENTIALS,
        AuditAction.RECOVERY_CODES_GENERATED,
        AuditAction.SESSIONS_ENDED,
        AuditAction.PURGE,
        AuditAction.PERSON_EXPORTED,
        AuditAction.ERASURE,
    }
)
"""Actions whose records keep who and what (not the client's IP and user agent) for three
years by default: security events, links and their refusals, and administrators' acts."""

_WHO = ("actor", "subject", "account_id", "detail")
_PERIOD = re.compile(r"(\d{1,6})\s*([dwy]?)")
_UNITS = {"": 1, "d": 1, "w": 7, "y": 365}
_BATCH = 1000


def _bad(message: str) -> AuditInputError:
    return AuditInputError(message, code="audit.bad_policy")


@attrs.frozen
class RetentionPolicy:
    """Periods after which personal values are purged; ``None`` keeps a value for good.

    ``fields`` holds the period of each personal field (a field left out is kept);
    ``actions`` the periods that differ for an action, by field.
    """

    fields: Mapping[str, timedelta | None]
    actions: Mapping[str, Mapping[str, timedelta | None]] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        known = set(AUDIT_PERSONAL_FIELDS)
        for where in (self.fields, *self.actions.values()):
            unknown = set(where) - known
            if unknown:
                raise _bad(f"not a personal field of an audit record: {sorted(unknown)[0]}")
            for period in where.values():
                if period is not None and period < timedelta(0):
                    raise _bad("a retention period cannot be negative")
        actions = {a.value for a in AuditAction}
        unknown_actions = set(self.actions) - actions
        if unknown_actions:
            raise _bad(f"not an audit action: {sorted(unknown_actions)[0]}")

    def period(self, action: str, field: str) -> timedelta | None:
        """How long ``field`` of an ``action`` record is kept (``None``: for good)."""
        own = self.actions.get(action)
        if own is not None and field in own:
            return own[field]
        return self.fields.get(field)

    def merged(self, data: Mapping[str, Any]) -> RetentionPolicy:
        """This policy with the periods of ``data`` (as :func:`load_policy` reads)."""
        if not isinstance(data, Mapping) or set(data) - {"fields", "actions"}:
            raise _bad('a retention policy has only "fields" and "actions"')
        fields = dict(self.fields)
        fields.update(_periods(data.get("fields", {}), "fields"))
        actions = {a: dict(p) for a, p in self.actions.items()}
        extra = data.get("actions", {})
        if not isinstance(extra, Mapping):
            raise _bad('"actions" must map actions to their fields\' periods')
        for action, periods in extra.items():
            actions.setdefault(str(action), {}).update(_periods(periods, f"actions of {action}"))
        return RetentionPolicy(fields, actions)


def parse_period(value: object) -> timedelta | None:
    """A period as a policy writes it: days as a number, or ``"30d"``, ``"26w"``,
    ``"3y"`` (365 days a year), or ``"keep"`` (``None``)."""
    if value == "keep":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999_999:
        return value * _DAY
    if isinstance(value, str):
        found = _PERIOD.fullmatch(value.strip())
        if found is not None:
            return int(found.group(1)) * _UNITS[found.group(2)] * _DAY
    raise _bad(f"not a retention period: {value!r:.40} (days, 30d, 26w, 3y or keep)")


def _periods(data: object, where: str) -> dict[str, timedelta | None]:
    if not isinstance(data, Mapping):
        raise _bad(f'"{where}" must map personal fields to periods')
    return {str(name): parse_period(value) for name, value in data.items()}


DEFAULT_POLICY = RetentionPolicy(
    fields=MappingProxyType(
        {"ip": _SIX_MONTHS, "user_agent": _SIX_MONTHS, **dict.fromkeys(_WHO, _ONE_YEAR)}
    ),
    actions=MappingProxyType(
        {
            action.value: MappingProxyType(dict.fromkeys(_WHO, _THREE_YEARS))
            for action in KEPT_LONGER
        }
    ),
)
"""IPs and user agents: six months; who and what of logins and sessions: one year; of
the actions in :data:`KEPT_LONGER`: three years (the reasons: docs/audit.md)."""


def load_policy(path: Path, base: RetentionPolicy = DEFAULT_POLICY) -> RetentionPolicy:
    """``base`` with the periods of a TOML (``.toml``) or JSON file (``audit.bad_policy``
    when it does not parse or names what is unknown)."""
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except OSError as exc:
        raise _bad(f"cannot read the retention policy {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _bad(f"the retention policy {path} does not parse: {reason}") from exc
    return base.merged(data)


@attrs.frozen
class PurgeReport:
    """What :func:`purge` found due (and, when ``applied``, removed).

    ``records`` and ``values`` count the records and values past their period;
    ``fields`` the values per field, ``actions`` the records per action. ``unpurgeable``
    counts the records with values past their period that are chained over their values
    (format 1) and so kept. ``event_id`` is the ``purge`` record written when applied.
    """

    applied: bool
    records: int
    values: int
    fields: Mapping[str, int]
    actions: Mapping[str, int]
    unpurgeable: int = 0
    event_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "records": self.records,
            "values": self.values,
            "fields": dict(sorted(self.fields.items())),
            "actions": dict(sorted(self.actions.items())),
            "unpurgeable": self.unpurgeable,
            "event_id": self.event_id,
        }

    def summary(self) -> str:
        """One line without personal data, the ``detail`` of the ``purge`` record."""

        def n(value: int) -> str:
            return f"{value:_}"  # "_" groups: a run of 4 digits would be redacted

        parts = [f"records={n(self.records)}", f"values={n(self.values)}"]
        parts.extend(f"{name}={n(count)}" for name, count in sorted(self.fields.items()))
        if self.unpurgeable:
            parts.append(f"unpurgeable={n(self.unpurgeable)}")
        return " ".join(parts)


def _due(
    event: AuditEvent, policy: RetentionPolicy, now: datetime, cutoffs: dict[tuple[str, str], Any]
) -> list[str]:
    action = str.__str__(event.action) if isinstance(event.action, str) else ""
    purged = event.purged
    due: list[str] = []
    for name in AUDIT_PERSONAL_FIELDS:
        value = getattr(event, name)
        if value is None or name in purged or (name == "actor" and value == ""):
            continue
        key = (action, name)
        cutoff = cutoffs.get(key, ...)
        if cutoff is ...:
            period = policy.period(action, name)
            cutoff = cutoffs[key] = None if period is None else now - period
        if cutoff is not None and isinstance(event.at, datetime) and event.at < cutoff:
            due.append(name)
    return due


def purge(
    log: PurgeableLog,
    policy: RetentionPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
    apply: bool = False,
    *,
    actor: str = "purge",
) -> PurgeReport:
    """Find (and with ``apply``, remove) every personal value older than its period.

    A dry run (the default) changes nothing. Applied, each value goes with its nonce and
    its commitment stays; one ``purge`` record with the counts is then written. Running it
    again finds nothing more. ``now`` must be timezone-aware (``audit.invalid_event``).
    """
    if now is None or now.tzinfo is None or now.utcoffset() is None:
        raise AuditInputError("purge needs a timezone-aware now", code="audit.invalid_event")
    key = log.commitment_key
    cutoffs: dict[tuple[str, str], Any] = {}
    fields: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    records = unpurgeable = 0
    after = 0
    while True:
        page = log.events(after, _BATCH)
        changed: list[AuditEvent] = []
        for event in page:
            due = _due(event, policy, now, cutoffs)
            if not due:
                continue
            if event.commitments is None:
                unpurgeable += 1
                continue
            records += 1
            fields.update(due)
            actions[str(event.action)] += 1
            changed.append(key.purge(event, due))
        if apply and changed:
            log.store_purged(changed)
        if len(page) < _BATCH:
            break
        after = int(page[-1].event_id or 0)
    report = PurgeReport(
        apply, records, sum(fields.values()), dict(fields), dict(actions), unpurgeable
    )
    if not apply:
        return report
    stored = log.record(
        AuditEvent(AuditAction.PURGE, now, actor=actor, code=None, detail=report.summary())
    )
    return attrs.evolve(report, event_id=stored.event_id)
