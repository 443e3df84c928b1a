"""The states of a step-up: a logged-in person sent back to the IdP for a fresh or
stronger authentication before one action (docs/reauthentication.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from sso_bridge.broker.machine.states import Frame, IdpRequest, State

__all__ = ["AwaitingIdpToStepUp", "SteppedUp"]


def _kind(name: str) -> State:
    from sso_bridge.broker.machine.states import State  # noqa: PLC0415 - states imports us

    return State(name)


@attrs.frozen
class AwaitingIdpToStepUp:
    """The browser was sent to the IdP to authenticate again the person of a session.

    The answer must name ``issuer`` and ``subject`` (the session's), an authentication no
    older than ``max_age`` seconds before this step began, and, when ``acr_values`` is
    not empty, one of those context classes. ``return_to`` is where the person goes after.
    """

    kind: ClassVar[State] = _kind("awaiting_idp_to_step_up")
    frame: Frame
    provider: str
    request: IdpRequest
    session_id: str
    issuer: str
    subject: str
    max_age: int
    acr_values: tuple[str, ...] = ()
    return_to: str | None = None


@attrs.frozen
class SteppedUp:
    """The step-up passed and was recorded for the session."""

    kind: ClassVar[State] = _kind("stepped_up")
    session_id: str
