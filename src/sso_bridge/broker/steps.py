"""Login steps: the stored states of the machine, where one browser's login stands.

A step is stored under a random id in an :class:`~sso_bridge.store.EphemeralStore`
(kind ``"step"``, owner = the hash of the browser id), expires, and is consumed when the
next input arrives: a step id works once, only in the browser that started it; another
browser's attempt is refused before the step is consumed, so it cannot spend the owner's
step. Whether the input fits the step's state is the machine's to say
(``broker.out_of_order``). The step is the *linking proof* of docs/matching.md: it
carries the verified issuer and subject and the accounts that were offered, so a chooser
answer or a local login can only link what this browser was shown. Logout and unlink
drop every step of the browser.

The identity kept in a step has no SNILS or passport number: only their keyed hashes
(the match keys), which is all that linking needs.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sso_bridge.broker.codec import decode_state, encode_state
from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.machine.states import (
    AwaitingIdp,
    AwaitingIdpToLink,
    AwaitingIdpToStepUp,
    StepIdentity,
    StoredState,
)
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.sessions import Session

__all__ = [
    "StepIdentity",
    "StepStore",
    "browser_hash",
    "new_step_id",
    "offer_proof_id",
    "offer_proof_owner",
]

STEP_KIND = "step"


def browser_hash(browser_id: str) -> str:
    """What steps and kept requests are bound to: never the browser id itself."""
    return hashlib.sha256(browser_id.encode()).hexdigest()


def new_step_id() -> str:
    return secrets.token_urlsafe(32)


def offer_proof_owner(session: Session) -> str:
    """What the proof kept for the unlinked accounts a session's switcher offers is bound
    to: the session's person and start, which its rotations keep (the browser id is
    rotated at login, and the session is bound to its browser's cookie and address)."""
    data = "\x00".join(
        ("offer", session.issuer or "", session.subject or "", session.created_at.isoformat())
    )
    return hashlib.sha256(data.encode()).hexdigest()


def offer_proof_id(owner: str) -> str:
    """The step id of that proof."""
    return "offer." + owner


def _check_owner(state: StoredState, browser: str) -> None:
    if not secrets.compare_digest(state.frame.browser, browser):
        raise BrokerError("this login step belongs to another browser", code="broker.step_foreign")


class StepStore:
    """Steps in an ephemeral store: saved once, taken once, bound to one browser."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    def save(self, state: StoredState, now: datetime) -> str:
        """Store ``state`` under a new id and give the id. A step sent to the IdP is
        stored under the id its request carries (OIDC ``state``, SAML ``RelayState``)."""
        if isinstance(state, AwaitingIdp | AwaitingIdpToLink | AwaitingIdpToStepUp):
            step_id = state.request.step_id
        else:
            step_id = new_step_id()
        frame = state.frame
        self._store.put(
            STEP_KIND, step_id, encode_state(state), frame.expires_at, now, owner=frame.browser
        )
        return step_id

    def save_as(self, step_id: str, state: StoredState, now: datetime) -> None:
        """Store ``state`` under ``step_id`` (a proof kept for the session's switcher)."""
        frame = state.frame
        self._store.put(
            STEP_KIND, step_id, encode_state(state), frame.expires_at, now, owner=frame.browser
        )

    def take(self, step_id: str, browser: str, now: datetime) -> StoredState:
        """Consume the step; refuse an unknown, used, expired or foreign one.

        The step is read and checked first and consumed only when it belongs to
        ``browser``: another browser's attempt leaves it usable by its owner. Consuming
        is atomic, so of two attempts by the owner one wins; the step is checked again
        as consumed, in case its id was written anew in between.
        """
        if not step_id or len(step_id) > 128:
            raise BrokerError("the login step is missing", code="broker.step_unknown")
        seen = self._store.get(STEP_KIND, step_id, now)
        raw = None
        if seen is not None:
            checked = decode_state(seen)
            _check_owner(checked, browser)
            raw = self._store.consume(STEP_KIND, step_id, now)
        if raw is None:
            raise BrokerError(
                "this login step is unknown, used or expired; start the login again",
                code="broker.step_unknown",
            )
        if raw == seen:  # nothing was written in between: the checked state is this one
            return checked
        state = decode_state(raw)
        _check_owner(state, browser)
        return state

    def drop_browser(self, browser: str) -> int:
        """Forget every step of a browser (logout, unlink)."""
        return self._store.delete_owned_by(STEP_KIND, browser)
