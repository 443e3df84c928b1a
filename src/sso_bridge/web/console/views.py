"""What the console shows: finding accounts, and everything held about one account."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

import attrs

from sso_bridge.errors import InvalidInput
from sso_bridge.linking.requests import LinkRequest
from sso_bridge.matching.normalize import normalize_name, normalize_optional_name
from sso_bridge.mfa import RecoveryCodes
from sso_bridge.mfa.errors import SecondFactorLocked
from sso_bridge.model import AuditEvent, Link, LocalAccount, MatchKeys
from sso_bridge.sessions import Session
from sso_bridge.web.console.actions import OperatorActions
from sso_bridge.web.console.errors import ConsoleError, ConsoleInputError

__all__ = [
    "MAX_FIELD",
    "MAX_PAGE",
    "MAX_RESULTS",
    "AccountSummary",
    "Lockout",
    "Search",
    "Timeline",
    "parse_birth_date",
]

MAX_FIELD: Final = 256
"""The longest value of a search field."""
MAX_RESULTS: Final = 50
"""The most accounts one search lists."""
MAX_PAGE: Final = 100
"""The last page of a timeline the console shows (older records: ``sso-bridge audit``)."""


def field(value: str, name: str, *, required: bool = True) -> str:
    """``value`` trimmed; ``console.bad_input`` when missing (and ``required``), too long,
    or holding control characters."""
    value = value.strip()
    if (required and not value) or len(value) > MAX_FIELD or not value.isprintable():
        raise ConsoleInputError(f"the field {name} is missing, too long or malformed")
    return value


def parse_birth_date(value: str) -> date:
    """A birth date ``YYYY-MM-DD`` (what a date input sends); ``console.bad_date``."""
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ConsoleError("not a date YYYY-MM-DD", code="console.bad_date") from None
    if parsed.year < 1900 or len(value.strip()) != 10:
        raise ConsoleError("not a date YYYY-MM-DD", code="console.bad_date")
    return parsed


@attrs.frozen
class Search:
    """One search of the console: ``by`` is ``login`` (with the organisation),
    ``account`` (its id) or ``name`` (full name and birth date)."""

    by: str
    found: tuple[LocalAccount, ...]


def search(actions: OperatorActions, query: dict[str, str]) -> Search | None:
    """The accounts ``query`` asks for (None: no search asked yet)."""
    by = query.get("by", "")
    directory = actions.broker.directory
    if by == "login":
        org_id = field(query.get("org", ""), "org")
        login = field(query.get("login", ""), "login")
        one = directory.find_by_login(org_id, login)
        return Search(by, () if one is None else (one,))
    if by == "account":
        found = directory.get_account(field(query.get("account", ""), "account"))
        return Search(by, () if found is None else (found,))
    if by == "name":
        return Search(by, tuple(by_name(actions, query)))
    if by:
        raise ConsoleInputError("a search is by login, account or name")
    return None


def by_name(actions: OperatorActions, query: dict[str, str]) -> list[LocalAccount]:
    """Accounts of a full name and birth date, found through the name index of the
    directory (the key of last name, first name and birth date), never by scanning names;
    each found one is compared again on the names and the date themselves."""
    birth = parse_birth_date(field(query.get("birth", ""), "birth"))
    try:
        keys = MatchKeys(
            last=normalize_name(field(query.get("last", ""), "last")),
            first=normalize_name(field(query.get("first", ""), "first")),
            middle=normalize_optional_name(
                field(query.get("middle", ""), "middle", required=False)
            ),
            birth_date=birth,
            snils=None,
            passport=None,
        )
    except InvalidInput as exc:
        raise ConsoleInputError(f"a name is malformed: {exc.message}") from None
    entries = actions.broker.directory.find_accounts(keys, "")
    found = [
        e.account for e in entries if e.keys.birth_date == birth and e.keys.same_person_name(keys)
    ]
    return sorted(found, key=lambda a: a.account_id)[:MAX_RESULTS]


@attrs.frozen
class Lockout:
    """A lock of one kind: whether it holds, until when (None: until lifted) and the
    failures counted so far."""

    locked: bool
    until: datetime | None = None
    failures: int = 0
    wait: timedelta | None = None


@attrs.frozen
class Timeline:
    """One page of an account's audit records, newest first."""

    records: tuple[AuditEvent, ...]
    page: int
    more: bool


def timeline(actions: OperatorActions, account_id: str, page: int, size: int) -> Timeline:
    """Page ``page`` (from 1) of the account's audit records, newest first."""
    wanted = page * size
    newest = list(reversed(actions.broker.audit.tail(wanted + 1, account_id=account_id)))
    return Timeline(tuple(newest[wanted - size : wanted]), page, len(newest) > wanted)


@attrs.frozen
class AccountSummary:
    """Everything the console shows about one account."""

    account: LocalAccount
    organisation: str
    links: tuple[Link, ...]
    sessions: tuple[Session, ...]
    has_password: bool
    password: Lockout
    second_factor: Lockout | None
    """None: wrong codes are not limited, so the second factor never locks."""
    totp_enrolled: bool
    recovery_left: int
    requests: tuple[LinkRequest, ...]
    timeline: Timeline


def summary(actions: OperatorActions, account_id: str, page: int, size: int) -> AccountSummary:
    """The account page's content (``account.not_found`` for an unknown id)."""
    broker = actions.broker
    account = actions.account(account_id)
    now = actions.clock.now()
    found = broker.account_and_organisation(account_id)
    organisation = found[1] if found is not None else None
    credentials = broker.credentials.get(account_id)
    password = Lockout(False)
    if credentials is not None:
        password = Lockout(
            credentials.locked(now),
            credentials.locked_until,
            credentials.failed_logins,
        )
    second: Lockout | None = None
    budget = actions.second_factor_budget()
    if budget is not None:
        try:
            budget.check(account_id, now)
            second = Lockout(False)
        except SecondFactorLocked as exc:
            second = Lockout(True, wait=exc.retry_after)
    sessions = broker.sessions.sessions_of(account_id, now)
    requests = () if actions.requests is None else actions.requests.pending(account_id=account_id)
    return AccountSummary(
        account=account,
        organisation=account.org_id if organisation is None else organisation.name,
        links=tuple(broker.links.links_for_account(account_id)),
        sessions=tuple(sorted(sessions, key=lambda s: s.created_at, reverse=True)),
        has_password=credentials is not None and credentials.password_hash is not None,
        password=password,
        second_factor=second,
        totp_enrolled=credentials is not None and credentials.totp_enrolled,
        recovery_left=RecoveryCodes(broker.credentials).left(account_id),
        requests=tuple(requests),
        timeline=timeline(actions, account_id, page, size),
    )
