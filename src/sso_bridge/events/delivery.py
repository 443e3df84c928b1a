"""The delivery worker: audit records after each sink's cursor, then operational events.

Audit events are delivered at least once: the trail is the log, each sink's cursor (the
last record given to it) is kept in the :class:`~sso_bridge.events.store.EventStore`, and
only the instance holding a sink's lease delivers to it. Records are taken in id order,
once older than ``settle`` (a record committed late with a lower id is not passed
over). A failed record is retried, with exponential backoff and full jitter, before any
later one; after ``max_age`` (or ``max_attempts``), or at once when the sink refuses it
for good, it becomes a dead letter and the cursor moves on. Dead letters an operator
marked for retry are sent again by the lease holder.

:meth:`Delivery.run_once` does one pass (tests, cron); :meth:`Delivery.start` runs passes
on a thread until :meth:`Delivery.stop`.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import attrs

from sso_bridge.audit.ports import AuditLog
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.events.channel import Channel, channel_for
from sso_bridge.events.config import EventsConfig, RetryPolicy
from sso_bridge.events.model import Event, event_bytes, event_json, event_of_record
from sso_bridge.events.ops import OperationalEvents
from sso_bridge.events.store import DeadLetter, EventStore, SinkState
from sso_bridge.events.webhook import Outcome

__all__ = ["GAVE_UP", "REFUSED", "Delivery", "Pass", "backoff"]

_log = logging.getLogger("sso_bridge.events")

REFUSED: Final = "events.refused"
"""The reason of a dead letter the sink refused for good."""
GAVE_UP: Final = "events.delivery_failed"
"""The reason of a dead letter retried for its whole ``max_age`` (or ``max_attempts``)."""


class _Random(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def backoff(policy: RetryPolicy, attempts: int, rng: _Random) -> timedelta:
    """The wait before try ``attempts + 1``: full jitter up to the capped exponential."""
    ceiling = min(policy.cap, policy.base * (2 ** min(max(attempts - 1, 0), 40)))
    return timedelta(seconds=rng.uniform(0.0, ceiling.total_seconds()))


@attrs.define
class Pass:
    """What one :meth:`Delivery.run_once` did, per sink."""

    delivered: dict[str, int] = attrs.Factory(dict)
    dead_lettered: dict[str, int] = attrs.Factory(dict)
    failed: dict[str, str] = attrs.Factory(dict)
    skipped: list[str] = attrs.Factory(list)
    """Sinks whose lease another instance holds."""


class Delivery:
    """Delivers the events of ``audit`` and of :attr:`ops` to ``config``'s sinks."""

    def __init__(
        self,
        config: EventsConfig,
        audit: AuditLog,
        store: EventStore,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        rng: _Random | None = None,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.config = config
        self.audit = audit
        self.store = store
        self.clock = clock or SystemClock()
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._rng = rng or random.SystemRandom()
        made = dict(channels or {})
        self.channels = {s.name: made.get(s.name) or channel_for(s) for s in config.sinks}
        self.ops = OperationalEvents(
            self.channels, size=config.queue_size, coalesce=config.coalesce, clock=self.clock
        )
        self._ops_next: dict[str, tuple[int, datetime]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass -----------------------------------------------------------------------

    def run_once(self) -> Pass:
        """One pass over every sink; never raises for a sink's or the store's fault
        (it is logged, and the next pass tries again)."""
        result = Pass()
        for name, channel in self.channels.items():
            try:
                self._audit_pass(name, channel, result)
            except Exception as exc:
                code = getattr(exc, "code", type(exc).__name__)
                result.failed[name] = str(code)
                _log.warning(
                    "events for sink %s not delivered: %s",
                    name,
                    code,
                    extra={"event": "delivery.pass_failed", "sink": name, "code": str(code)},
                )
            finally:
                channel.flush()
            self._ops_pass(name, channel, result)
            channel.flush()
        return result

    def _start_cursor(self) -> int:
        if self.config.start == "beginning":
            return 0
        last = self.audit.tail(1)
        return (last[-1].event_id or 0) if last else 0

    def _audit_pass(self, name: str, channel: Channel, result: Pass) -> None:
        now = self.clock.now()
        lease = self.config.lease
        start = 0 if self.store.sink_state(name) is not None else self._start_cursor()
        state = self.store.claim(name, self.owner, now, lease, start)
        if state is None:
            result.skipped.append(name)
            return
        self._retry_dead_letters(name, channel, now)
        if state.next_try_at is not None and now < state.next_try_at:
            return
        records = self.audit.events(after_id=state.cursor, limit=self.config.batch)
        settled_before = now - self.config.settle
        for record in records:
            if record.event_id is None or record.at > settled_before:
                break
            event = event_of_record(record)
            outcome = channel.send(event, self._body(channel, event), now)
            state, go_on = self._after(name, channel, state, event, record, outcome, now, result)
            if not self.store.save(state, self.owner, now, lease):
                result.skipped.append(name)  # the lease went to another instance
                return
            if not go_on:
                return

    def _after(
        self,
        name: str,
        channel: Channel,
        state: SinkState,
        event: Event,
        record: Any,
        outcome: Outcome,
        now: datetime,
        result: Pass,
    ) -> tuple[SinkState, bool]:
        """The sink's state after ``outcome``, and whether to go on with the next record."""
        if outcome.ok:
            result.delivered[name] = result.delivered.get(name, 0) + 1
            return _cleared(state, event), True
        same = state.failing_id == record.event_id
        attempts = state.attempts + 1 if same else 1
        first = state.first_failed_at if same and state.first_failed_at is not None else now
        policy = self.config.retry
        too_many = policy.max_attempts is not None and attempts >= policy.max_attempts
        if outcome.permanent or too_many or now - first >= policy.max_age:
            if outcome.permanent:
                reason = f"{REFUSED}: {outcome.reason}"
            else:
                reason = f"{GAVE_UP}: {outcome.reason}; gave up"
            self._dead_letter(name, channel, event, record, outcome, attempts, reason, now)
            result.dead_lettered[name] = result.dead_lettered.get(name, 0) + 1
            return _cleared(state, event), True
        wait = backoff(policy, attempts, self._rng)
        if outcome.retry_after is not None:
            wait = max(wait, min(outcome.retry_after, policy.cap))
        result.failed[name] = outcome.reason
        state = attrs.evolve(
            state,
            failing_id=record.event_id,
            attempts=attempts,
            first_failed_at=first,
            next_try_at=now + wait,
            last_status=outcome.status,
            last_error=outcome.reason[:200],
        )
        return state, False

    def _dead_letter(
        self,
        name: str,
        channel: Channel,
        event: Event,
        record: Any,
        outcome: Outcome,
        attempts: int,
        reason: str,
        now: datetime,
    ) -> None:
        personal = bool(channel.personal)
        self.store.add_dead_letter(
            DeadLetter(
                sink=name,
                event_id=event.event_id,
                kind=event.kind,
                body=self._body(channel, event).decode(),
                reason=reason[:200],
                attempts=attempts,
                created_at=now,
                last_status=outcome.status,
                account_id=getattr(record, "account_id", None) if personal else None,
                issuer=getattr(record, "issuer", None) if personal else None,
                subject=getattr(record, "subject", None) if personal else None,
            )
        )
        _log.warning(
            "event %s dead-lettered for sink %s: %s",
            event.event_id,
            name,
            reason,
            extra={"event": "delivery.dead_letter", "sink": name, "event_id": event.event_id},
        )

    def _retry_dead_letters(self, name: str, channel: Channel, now: datetime) -> None:
        for letter in self.store.dead_letters(sink=name, retry_only=True, limit=self.config.batch):
            outcome = channel.resend(letter.event_id, letter.kind, letter.body.encode(), now)
            if outcome.ok:
                self.store.drop_dead_letters([letter.letter_id or 0])
                continue
            self.store.update_dead_letter(
                attrs.evolve(
                    letter,
                    attempts=letter.attempts + 1,
                    last_status=outcome.status,
                    reason=f"retry failed: {outcome.reason}"[:200],
                    retry=False,
                )
            )

    def _body(self, channel: Channel, event: Event) -> bytes:
        return event_bytes(event_json(event, channel.personal, self.config.source))

    def _ops_pass(self, name: str, channel: Channel, result: Pass) -> None:
        now = self.clock.now()
        attempts, not_before = self._ops_next.get(name, (0, now))
        if now < not_before:
            return
        while (event := self.ops.peek(name)) is not None:
            outcome = channel.send(event, self._body(channel, event), now)
            if outcome.ok or outcome.permanent:
                self.ops.pop(name, event)
                self._ops_next.pop(name, None)
                attempts = 0
                if outcome.ok:
                    result.delivered[name] = result.delivered.get(name, 0) + 1
                continue
            attempts += 1
            self._ops_next[name] = (attempts, now + backoff(self.config.retry, attempts, self._rng))
            return

    # -- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the operational signals and deliver on a daemon thread."""
        if self._thread is not None:
            return
        self.ops.listen()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sso-bridge-events", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.config.poll)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after its current pass), give the leases up, close the sinks."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.ops.close()
        for name, channel in self.channels.items():
            try:
                self.store.release(name, self.owner)
            except Exception:  # noqa: S112 - the lease lapses by itself
                continue
            finally:
                channel.close()


def _cleared(state: SinkState, event: Event) -> SinkState:
    return attrs.evolve(
        state,
        cursor=event.record_id or state.cursor,
        failing_id=None,
        attempts=0,
        first_failed_at=None,
        next_try_at=None,
        last_status=None,
        last_error=None,
    )
