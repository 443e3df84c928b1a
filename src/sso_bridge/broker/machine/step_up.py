"""Fresh authentication: the check of an IdP's ``auth_time`` against the step that asked
for it, and the rules of a step-up (docs/reauthentication.md).

A step asks the IdP for an authentication no older than ``max_age`` seconds (0: a fresh
one). The answer passes only when it says when the person authenticated and that moment
is at or after the step's start minus ``max_age`` and the clock skew: an IdP that answers
from a session it already held (the flaw of Keycloak issue 14147, where a stale session
satisfied a step-up) is refused, whatever else the answer claims.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sso_bridge.broker.machine.effects import Record, SendToIdp, StepUpPassed
from sso_bridge.broker.machine.events import IdpAnswered, StepUpBegun
from sso_bridge.broker.machine.outcome import Outcome, refusal, refuse
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.states import Frame, Person, Start
from sso_bridge.broker.machine.step_up_states import AwaitingIdpToStepUp, SteppedUp
from sso_bridge.errors import BridgeError
from sso_bridge.model import AuditAction

__all__ = ["not_fresh", "step_up_answered", "step_up_begun"]


def not_fresh(
    person: Person, since: datetime, now: datetime, *, max_age: int, skew: timedelta
) -> BridgeError | None:
    """Why ``person``'s authentication does not answer a step begun at ``since`` that
    asked for one within ``max_age`` seconds (None: it does)."""
    auth_time = person.auth_time
    if auth_time is None:
        return refusal(
            "broker.stale_authentication",
            "the IdP did not say when it authenticated you; log in at the IdP again",
        )
    if auth_time < since - timedelta(seconds=max_age) - skew:
        return refusal(
            "broker.stale_authentication",
            "the IdP answered from an earlier login instead of asking for your password "
            "again; log in at the IdP again",
        )
    if auth_time > now + skew:
        return refusal(
            "broker.stale_authentication", "the IdP dated the authentication in the future"
        )
    return None


def step_up_begun(p: Policy, _: Start, e: StepUpBegun, now: datetime) -> Outcome:
    frame = Frame(e.browser, now, now + p.step_lifetime)
    state = AwaitingIdpToStepUp(
        frame,
        e.provider,
        e.request,
        e.session_id,
        e.issuer,
        e.subject,
        e.max_age,
        e.acr_values,
        e.return_to,
    )
    return Outcome(state, (SendToIdp(e.url, e.fields),))


def step_up_answered(p: Policy, s: AwaitingIdpToStepUp, e: IdpAnswered, now: datetime) -> Outcome:
    """The same person as the session, authenticated recently enough, as strongly as asked."""
    identity = e.person.identity
    who = {"issuer": identity.issuer, "subject": identity.subject}
    error: BridgeError | None = None
    if (identity.issuer, identity.subject) != (s.issuer, s.subject):
        error = refusal(
            "broker.step_up_wrong_person",
            "the IdP authenticated someone else than the person of this session",
        )
    else:
        error = not_fresh(e.person, s.frame.created_at, now, max_age=s.max_age, skew=p.skew)
    if error is None and s.acr_values and e.person.acr not in s.acr_values:
        error = refusal(
            "broker.acr_not_met",
            "the IdP did not authenticate you as strongly as this action needs",
        )
    if error is not None:
        record = Record(AuditAction.SECURITY, code=error.code, detail="step-up refused", **who)
        return refuse(error, (record,))
    auth_time = e.person.auth_time
    assert auth_time is not None  # noqa: S101 - not_fresh refused an answer without it
    passed = StepUpPassed(s.session_id, auth_time, e.person.acr, s.return_to)
    record = Record(AuditAction.STEP_UP, detail=f"acr {e.person.acr or '-'}", **who)
    return Outcome(SteppedUp(s.session_id), (record, passed))
