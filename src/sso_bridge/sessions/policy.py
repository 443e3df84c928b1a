"""The lifetimes and binding of sessions (:class:`SessionPolicy`)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from sso_bridge.errors import ConfigError
from sso_bridge.sessions.binding import IpBinding

__all__ = ["SessionPolicy"]


def _positive(instance: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ConfigError(f"{attribute.name} must be a positive timedelta", code="config.invalid")


def _not_negative(
    instance: object, attribute: attrs.Attribute[timedelta], value: timedelta
) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigError(f"{attribute.name} must not be negative", code="config.invalid")


@attrs.frozen
class SessionPolicy:
    """Lifetimes and binding of sessions.

    ``absolute_lifetime`` counts from login and is never extended; ``idle_timeout`` from
    the last use. ``touch_interval`` bounds how stale the recorded last use may be (and so
    how often validation writes). ``grace`` is how long a session that ended by time is
    still remembered, so that validation can name its account (``session.expired``)
    instead of knowing nothing (``session.unknown``).
    """

    absolute_lifetime: timedelta = attrs.field(default=timedelta(hours=8), validator=_positive)
    idle_timeout: timedelta = attrs.field(default=timedelta(minutes=30), validator=_positive)
    binding: IpBinding = attrs.field(
        factory=IpBinding, validator=attrs.validators.instance_of(IpBinding)
    )
    touch_interval: timedelta = attrs.field(default=timedelta(seconds=60), validator=_not_negative)
    grace: timedelta = attrs.field(default=timedelta(hours=24), validator=_not_negative)

    def __attrs_post_init__(self) -> None:
        if self.touch_interval >= self.idle_timeout:
            raise ConfigError(
                "touch_interval must be shorter than idle_timeout", code="config.invalid"
            )
