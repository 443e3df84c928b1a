"""Errors of events out (docs/events.md)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, InvalidInput, declare

__all__ = ["EventsError", "EventsInputError"]


class EventsError(BridgeError):
    """Events out: a sink's setting, a dead letter, a delivery."""

    family = "events"
    about = "Events out to webhooks, syslog and JSON lines ([events.md](events.md))."
    codes = declare(
        Code("events.bad_config", 500, "A sink's setting is wrong; the message names it."),
        Code("events.bad_fields", 400, "A field named is not one of the personal fields."),
        Code("events.bad_event", 400, "An event cannot be sent (an audit record without an id)."),
        Code("events.bad_time", 400, "A time given is not an ISO date or date-time."),
        Code("events.dead_letter_not_found", 404, "No dead letter has that id."),
        Code(
            "events.delivery_failed",
            502,
            "A sink did not take an event (refused, unreachable, timed out); it is retried.",
        ),
        Code(
            "events.refused",
            502,
            "The receiver refused an event for good (a 4xx other than 408 and 429).",
        ),
    )
    code = "events.bad_config"


class EventsInputError(EventsError, InvalidInput):
    """A personal field, a time or a dead-letter id of the wrong form; also an
    :class:`~sso_bridge.errors.InvalidInput`."""

    code = "events.bad_fields"
