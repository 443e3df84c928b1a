"""Login steps: the server-side record of where one browser's login stands.

A step is stored under a random id in an :class:`~sso_bridge.store.EphemeralStore`
(kind ``"step"``, owner = the hash of the browser id), expires, and is consumed when the
next input arrives: a step id works once, only in the browser that started it, and only
for the input its state expects; another browser's attempt is refused before the step
is consumed, so it cannot spend the owner's step. The step is the *linking proof* of
docs/matching.md: it carries the verified issuer and subject and the accounts that were
offered, so a chooser answer or a local login can only link what this browser was
shown. Logout and unlink drop every step of the browser.

The identity kept in a step has no SNILS or passport number: only their keyed hashes
(the match keys), which is all that linking needs.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import attrs

from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.states import TERMINAL, State
from sso_bridge.esia.roles import EsiaOrganisation
from sso_bridge.matching.keys import MatchKeys
from sso_bridge.model import FederatedIdentity, LinkMethod
from sso_bridge.store.base import LinkStore
from sso_bridge.store.ephemeral import EphemeralStore

__all__ = ["Purpose", "Step", "StepIdentity", "StepStore", "browser_hash", "check_linked"]

STEP_KIND = "step"


class Purpose(enum.StrEnum):
    LOGIN = "login"
    LINK = "link"
    """Link from the settings of a logged-in person."""
    SWITCH = "switch"
    """Switch to another account of the session (its second factor)."""


def browser_hash(browser_id: str) -> str:
    """What steps and kept requests are bound to: never the browser id itself."""
    return hashlib.sha256(browser_id.encode()).hexdigest()


@attrs.frozen
class StepIdentity:
    """A verified federated identity as a step keeps it: no SNILS or passport in clear."""

    issuer: str
    subject: str
    verified: bool
    keys: MatchKeys
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: date | None = None

    def identity(self) -> FederatedIdentity:
        """The identity for matching and linking (pass ``keys`` along with it)."""
        return FederatedIdentity(
            issuer=self.issuer,
            subject=self.subject,
            verified=self.verified,
            last_name=self.last_name,
            first_name=self.first_name,
            middle_name=self.middle_name,
            birth_date=self.birth_date,
        )

    @classmethod
    def unmatched(cls, issuer: str, subject: str) -> StepIdentity:
        """Issuer and subject of a session, for a step that never matches or links."""
        return cls(issuer, subject, True, MatchKeys("", "", None, None, None, None))

    @classmethod
    def of(cls, identity: FederatedIdentity, keys: MatchKeys) -> StepIdentity:
        return cls(
            issuer=identity.issuer,
            subject=identity.subject,
            verified=identity.verified,
            keys=keys,
            last_name=identity.last_name,
            first_name=identity.first_name,
            middle_name=identity.middle_name,
            birth_date=identity.birth_date,
        )


@attrs.frozen
class Step:
    """One browser's login at one point of the state machine."""

    step_id: str
    state: State
    purpose: Purpose
    browser: str
    created_at: datetime
    expires_at: datetime
    provider: str | None = None
    oidc_pending: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    saml_request_id: str | None = None
    identity: StepIdentity | None = None
    offered: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    """Offered accounts matched on name and birth date alone."""
    account_id: str | None = None
    link_method: LinkMethod | None = None
    challenge_id: str | None = None
    idp_mfa: bool = False
    not_on_or_after: datetime | None = None
    session_id: str | None = None
    kept: str | None = None
    organisations: tuple[EsiaOrganisation, ...] | None = None
    """Where ESIA says the person works, read at the IdP's answer when the staff-role
    policy is on (None: not read)."""

    def evolve(self, state: State, **changes: Any) -> Step:
        """The next step: a new id, the same browser, purpose and deadline."""
        return attrs.evolve(self, step_id=new_step_id(), state=state, **changes)


def new_step_id() -> str:
    return secrets.token_urlsafe(32)


def _keys_dict(keys: MatchKeys) -> dict[str, Any]:
    return {
        "last": keys.last,
        "first": keys.first,
        "middle": keys.middle,
        "birth": None if keys.birth_date is None else keys.birth_date.isoformat(),
        "snils": None if keys.snils is None else keys.snils.hex(),
        "passport": None if keys.passport is None else keys.passport.hex(),
    }


def _keys_from(data: Mapping[str, Any]) -> MatchKeys:
    def raw(name: str) -> bytes | None:
        value = data[name]
        return None if value is None else bytes.fromhex(value)

    birth = data["birth"]
    return MatchKeys(
        last=data["last"],
        first=data["first"],
        middle=data["middle"],
        birth_date=None if birth is None else date.fromisoformat(birth),
        snils=raw("snils"),
        passport=raw("passport"),
    )


def _identity_dict(identity: StepIdentity) -> dict[str, Any]:
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "verified": identity.verified,
        "keys": _keys_dict(identity.keys),
        "last_name": identity.last_name,
        "first_name": identity.first_name,
        "middle_name": identity.middle_name,
        "birth_date": None if identity.birth_date is None else identity.birth_date.isoformat(),
    }


def _identity_from(data: Mapping[str, Any]) -> StepIdentity:
    birth = data["birth_date"]
    return StepIdentity(
        issuer=data["issuer"],
        subject=data["subject"],
        verified=bool(data["verified"]),
        keys=_keys_from(data["keys"]),
        last_name=data["last_name"],
        first_name=data["first_name"],
        middle_name=data["middle_name"],
        birth_date=None if birth is None else date.fromisoformat(birth),
    )


def _time(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _from_time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def encode_step(step: Step) -> bytes:
    data = {
        "state": step.state.value,
        "purpose": step.purpose.value,
        "browser": step.browser,
        "created_at": _time(step.created_at),
        "expires_at": _time(step.expires_at),
        "provider": step.provider,
        "oidc_pending": None if step.oidc_pending is None else dict(step.oidc_pending),
        "saml_request_id": step.saml_request_id,
        "identity": None if step.identity is None else _identity_dict(step.identity),
        "offered": list(step.offered),
        "weak": list(step.weak),
        "account_id": step.account_id,
        "link_method": None if step.link_method is None else step.link_method.value,
        "challenge_id": step.challenge_id,
        "idp_mfa": step.idp_mfa,
        "not_on_or_after": _time(step.not_on_or_after),
        "session_id": step.session_id,
        "kept": step.kept,
        "organisations": None
        if step.organisations is None
        else [attrs.asdict(o) for o in step.organisations],
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def decode_step(step_id: str, raw: bytes) -> Step:
    """The stored step; the store is ours, so a decoding failure is a server fault."""
    data = json.loads(raw)
    identity = data["identity"]
    method = data["link_method"]
    created = datetime.fromtimestamp(data["created_at"], UTC)
    expires = datetime.fromtimestamp(data["expires_at"], UTC)
    return Step(
        step_id=step_id,
        state=State(data["state"]),
        purpose=Purpose(data["purpose"]),
        browser=data["browser"],
        created_at=created,
        expires_at=expires,
        provider=data["provider"],
        oidc_pending=data["oidc_pending"],
        saml_request_id=data["saml_request_id"],
        identity=None if identity is None else _identity_from(identity),
        offered=tuple(data["offered"]),
        weak=tuple(data["weak"]),
        account_id=data["account_id"],
        link_method=None if method is None else LinkMethod(method),
        challenge_id=data["challenge_id"],
        idp_mfa=bool(data["idp_mfa"]),
        not_on_or_after=_from_time(data["not_on_or_after"]),
        session_id=data["session_id"],
        kept=data["kept"],
        organisations=None
        if data.get("organisations") is None
        else tuple(EsiaOrganisation(**o) for o in data["organisations"]),
    )


def check_linked(links: LinkStore, issuer: str, subject: str, account_id: str) -> None:
    """Refuse (``broker.not_linked``) switching to an account that the link store no
    longer links to ``issuer`` and ``subject``: a session's accounts were read at its
    login, so an unlink since then is only seen here."""
    if account_id not in {link.account_id for link in links.links_for_subject(issuer, subject)}:
        raise BrokerError(
            "that account is no longer linked to your state-portal account",
            code="broker.not_linked",
        )


def _check_owner(step: Step, browser: str) -> None:
    if not secrets.compare_digest(step.browser, browser):
        raise BrokerError("this login step belongs to another browser", code="broker.step_foreign")


class StepStore:
    """Steps in an ephemeral store: saved once, taken once, bound to one browser."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    def save(self, step: Step, now: datetime) -> None:
        if step.state in TERMINAL:
            return
        self._store.put(
            STEP_KIND,
            step.step_id,
            encode_step(step),
            step.expires_at,
            now,
            owner=step.browser,
        )

    def take(self, step_id: str, browser: str, now: datetime, *expected: State) -> Step:
        """Consume the step; refuse an unknown, used, expired or foreign one, or one whose
        state is not among ``expected``.

        The step is read and checked first and consumed only when it belongs to
        ``browser``: another browser's attempt leaves it usable by its owner. Consuming
        is atomic, so of two attempts by the owner one wins; the step is checked again
        as consumed, in case its id was written anew in between.
        """
        if not step_id or len(step_id) > 128:
            raise BrokerError("the login step is missing", code="broker.step_unknown")
        raw = self._store.get(STEP_KIND, step_id, now)
        if raw is not None:
            _check_owner(decode_step(step_id, raw), browser)
            raw = self._store.consume(STEP_KIND, step_id, now)
        if raw is None:
            raise BrokerError(
                "this login step is unknown, used or expired; start the login again",
                code="broker.step_unknown",
            )
        step = decode_step(step_id, raw)
        _check_owner(step, browser)
        if step.state not in expected:
            raise BrokerError(
                f"this page does not belong to the {step.state.value} step",
                code="broker.out_of_order",
            )
        return step

    def drop_browser(self, browser: str) -> int:
        """Forget every step of a browser (logout, unlink)."""
        return self._store.delete_owned_by(STEP_KIND, browser)
