"""Events out: every audit record and the broker's operational events, delivered to
signed webhooks, syslog (RFC 5424) and JSON lines files (docs/events.md).

A host builds an :class:`EventsConfig`, a :class:`Delivery` over its audit log and an
:class:`EventStore` (:class:`InMemoryEventStore`, or
:class:`sso_bridge.store.sql_events.SqlEventStore` in the database) and starts it; each
sink receives the personal fields it is configured for and no others.
"""

from sso_bridge.events.config import (
    EventsConfig,
    JsonLinesSink,
    RetryPolicy,
    SyslogSink,
    WebhookSink,
    events_config_from_env,
)
from sso_bridge.events.delivery import Delivery, Pass, backoff
from sso_bridge.events.errors import EventsError, EventsInputError
from sso_bridge.events.export import export_events
from sso_bridge.events.model import (
    PERSONAL_FIELDS,
    SCHEMA,
    Event,
    event_json,
    event_of_record,
    operational,
)
from sso_bridge.events.ops import OperationalEvents
from sso_bridge.events.store import DeadLetter, EventStore, InMemoryEventStore, SinkState
from sso_bridge.events.webhook import sign, verify_signature

__all__ = [
    "PERSONAL_FIELDS",
    "SCHEMA",
    "DeadLetter",
    "Delivery",
    "Event",
    "EventStore",
    "EventsConfig",
    "EventsError",
    "EventsInputError",
    "InMemoryEventStore",
    "JsonLinesSink",
    "OperationalEvents",
    "Pass",
    "RetryPolicy",
    "SinkState",
    "SyslogSink",
    "WebhookSink",
    "backoff",
    "event_json",
    "event_of_record",
    "events_config_from_env",
    "export_events",
    "operational",
    "sign",
    "verify_signature",
]
