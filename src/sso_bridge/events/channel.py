"""One sink behind one interface: send an event's body, flush, close."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Protocol

from sso_bridge.events.config import JsonLinesSink, Sink, SyslogSink, WebhookSink
from sso_bridge.events.jsonl import JsonLinesSender
from sso_bridge.events.model import Event
from sso_bridge.events.syslog import SyslogSender
from sso_bridge.events.webhook import Outcome, WebhookSender

__all__ = ["Channel", "SinkChannel", "channel_for"]


class Channel(Protocol):
    """A sink as the delivery worker uses it."""

    personal: frozenset[str]
    """The personal fields this sink receives."""

    def send(self, event: Event, body: bytes, now: datetime) -> Outcome:
        """Deliver ``event`` as ``body`` (its JSON form for this sink); never raises."""
        ...

    def resend(self, event_id: str, kind: str, body: bytes, now: datetime) -> Outcome:
        """Deliver a dead letter's stored ``body`` again."""
        ...

    def flush(self) -> None:
        """Make what was sent durable where the sink has such a notion (a file)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class SinkChannel:
    """A :class:`Channel` over the sender of a configured sink."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.personal = sink.personal
        self._webhook = WebhookSender(sink) if isinstance(sink, WebhookSink) else None
        self._syslog = SyslogSender(sink) if isinstance(sink, SyslogSink) else None
        self._jsonl = JsonLinesSender(sink) if isinstance(sink, JsonLinesSink) else None

    def send(self, event: Event, body: bytes, now: datetime) -> Outcome:
        if self._webhook is not None:
            return self._webhook.send(event.event_id, body, now)
        if self._syslog is not None:
            return self._syslog.send(event, body)
        if self._jsonl is not None:
            return self._jsonl.send(body)
        return Outcome(ok=False, permanent=True, reason="no sender")

    def resend(self, event_id: str, kind: str, body: bytes, now: datetime) -> Outcome:
        return self.send(Event(event_id, kind, _at_of(body, now)), body, now)

    def flush(self) -> None:
        if self._jsonl is not None:
            try:
                self._jsonl.flush()
            except OSError:
                self._jsonl.close()

    def close(self) -> None:
        for sender in (self._webhook, self._syslog, self._jsonl):
            if sender is not None:
                sender.close()


def _at_of(body: bytes, default: datetime) -> datetime:
    try:
        at = datetime.fromisoformat(str(json.loads(body)["at"]))
    except (ValueError, KeyError, TypeError):
        return default
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def channel_for(sink: Sink) -> Channel:
    """The channel of a configured sink."""
    return SinkChannel(sink)
