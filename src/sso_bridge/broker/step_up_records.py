"""The step-ups passed by sessions, kept in the shared short-lived store under the
session id (see :mod:`sso_bridge.broker.step_up`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs

from sso_bridge.broker.machine.effects import StepUpPassed
from sso_bridge.broker.results import StepUpDone
from sso_bridge.ephemeral import EphemeralStore

__all__ = ["StepUp", "StepUpRecords"]

_KIND = "step-up"


@attrs.frozen
class StepUp:
    """The last step-up of a session: when the IdP authenticated the person, how."""

    auth_time: datetime
    acr: str | None


class StepUpRecords:
    """The sessions' step-ups in the ephemeral store, under the session id."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    def put(self, session_id: str, step_up: StepUp, expires_at: datetime, now: datetime) -> None:
        value = json.dumps({"auth_time": step_up.auth_time.timestamp(), "acr": step_up.acr})
        self._store.put(_KIND, session_id, value.encode(), expires_at, now)

    def passed(self, effect: StepUpPassed, now: datetime, lifetime: timedelta) -> StepUpDone:
        """Keep a passed step-up for ``lifetime`` (as long as a session can live)."""
        self.put(effect.session_id, StepUp(effect.auth_time, effect.acr), now + lifetime, now)
        return StepUpDone(effect.return_to)

    def get(self, session_id: str, now: datetime) -> StepUp | None:
        raw = self._store.get(_KIND, session_id, now)
        if raw is None:
            return None
        data = json.loads(raw)
        return StepUp(datetime.fromtimestamp(data["auth_time"], UTC), data["acr"])
