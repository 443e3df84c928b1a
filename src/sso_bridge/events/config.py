"""The settings of events out: the sinks, the retry policy and the worker (off by default).

A host builds an :class:`EventsConfig` in code; :func:`events_config_from_env` reads the
few environment variables the examples use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final, Literal

import attrs

from sso_bridge.events.errors import EventsError
from sso_bridge.events.model import check_personal

__all__ = [
    "EventsConfig",
    "JsonLinesSink",
    "RetryPolicy",
    "Sink",
    "SyslogSink",
    "WebhookSink",
    "events_config_from_env",
]

_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def _bad(message: str) -> EventsError:
    return EventsError(message, code="events.bad_config")


def _name(_instance: object, _attribute: object, value: str) -> None:
    if not _NAME.fullmatch(value):
        raise _bad(f"sink name {value!r}: 1-64 of a-z 0-9 _ . - (starting with a letter or digit)")


def _personal(value: object) -> frozenset[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple | set | frozenset):
        raise _bad("personal must be a collection of field names")
    return check_personal([str(v) for v in value])


def _secret(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise _bad(f"{attribute.name} must be above 0")


@attrs.frozen
class WebhookSink:
    """POST each event as JSON to ``url``, signed with HMAC-SHA256 under ``secret``."""

    name: str = attrs.field(validator=_name)
    url: str
    secret: bytes = attrs.field(repr=False, converter=_secret)
    personal: frozenset[str] = attrs.field(default=frozenset(), converter=_personal)
    connect_timeout: float = attrs.field(default=3.0, validator=_positive)
    read_timeout: float = attrs.field(default=10.0, validator=_positive)
    max_answer_bytes: int = 65_536
    """How much of the receiver's answer is read (the rest is dropped unread)."""

    def __attrs_post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise _bad(f"webhook {self.name}: the URL must start with http:// or https://")
        if len(self.secret) < 16:
            raise _bad(f"webhook {self.name}: the secret needs 16 bytes or more")


@attrs.frozen
class SyslogSink:
    """RFC 5424 messages to ``address``: ``host:port`` over UDP or TCP (RFC 6587 octet
    counting), or a socket path for ``unix``."""

    name: str = attrs.field(validator=_name)
    address: str
    transport: Literal["udp", "tcp", "unix"] = "udp"
    personal: frozenset[str] = attrs.field(default=frozenset(), converter=_personal)
    facility: int = 10
    """10 is authpriv (security messages); 13 (log audit) is another common choice."""
    hostname: str | None = None
    """The HOSTNAME field; the machine's name when None."""
    sd_id: str = "event@32473"
    """The structured-data id; 32473 is the example enterprise number of RFC 5612:
    put your organisation's own there."""
    timeout: float = attrs.field(default=3.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.transport not in ("udp", "tcp", "unix"):
            raise _bad(f"syslog {self.name}: transport must be udp, tcp or unix")
        if not 0 <= self.facility <= 23:
            raise _bad(f"syslog {self.name}: facility must be 0..23")
        if self.transport != "unix" and ":" not in self.address:
            raise _bad(f"syslog {self.name}: the address must be host:port")


@attrs.frozen
class JsonLinesSink:
    """Append each event as one JSON line to ``path`` (created with mode 0600).

    ``fsync``: ``"batch"`` syncs the file after each batch written, ``"always"`` after
    each line, ``"never"`` leaves it to the operating system."""

    name: str = attrs.field(validator=_name)
    path: str
    personal: frozenset[str] = attrs.field(default=frozenset(), converter=_personal)
    fsync: Literal["always", "batch", "never"] = "batch"

    def __attrs_post_init__(self) -> None:
        if self.fsync not in ("always", "batch", "never"):
            raise _bad(f"jsonl {self.name}: fsync must be always, batch or never")


Sink = WebhookSink | SyslogSink | JsonLinesSink


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with full jitter: the n-th retry waits a random time up to
    ``min(cap, base * 2**(n-1))``. An event is dead-lettered after ``max_age`` since its
    first failure, or after ``max_attempts`` tries when that is set."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(hours=24)
    max_attempts: int | None = None


@attrs.frozen
class EventsConfig:
    """Events out. No sinks (the default): nothing is sent.

    ``settle``: an audit record is sent once it is this old, so that a record committed
    after one with a higher id (PostgreSQL hands ids out in blocks per connection) is not
    passed over; it must exceed the longest transaction that writes a record plus the
    clock difference between instances. ``lease``: how long one instance keeps the right
    to deliver to a sink without renewing it. ``start``: where a new sink's cursor
    starts, at the ``end`` of the trail or at its ``beginning``."""

    sinks: tuple[Sink, ...] = ()
    retry: RetryPolicy = RetryPolicy()
    settle: timedelta = timedelta(seconds=10)
    lease: timedelta = timedelta(seconds=60)
    batch: int = 200
    poll: float = 1.0
    queue_size: int = 1000
    """Operational events kept per sink while it is down (the oldest go first)."""
    coalesce: timedelta = timedelta(seconds=60)
    """The same operational event (kind and fields) is sent at most once in this time."""
    start: Literal["end", "beginning"] = "end"
    source: str = "sso-bridge"
    """The ``source`` of every event: tell several deployments apart."""

    def __attrs_post_init__(self) -> None:
        names = [s.name for s in self.sinks]
        if len(set(names)) != len(names):
            raise _bad("two sinks have the same name")
        if self.batch < 1 or self.queue_size < 1 or self.poll <= 0:
            raise _bad("batch, queue_size and poll must be above 0")
        if self.lease <= timedelta(0) or self.settle < timedelta(0):
            raise _bad("lease must be above 0 and settle not below 0")
        if self.start not in ("end", "beginning"):
            raise _bad("start must be end or beginning")

    @property
    def enabled(self) -> bool:
        """Whether any sink is configured."""
        return bool(self.sinks)


def events_config_from_env(environ: Mapping[str, str] | None = None) -> EventsConfig:
    """Sinks from ``SSO_BRIDGE_WEBHOOK_URL`` + ``SSO_BRIDGE_WEBHOOK_SECRET``,
    ``SSO_BRIDGE_SYSLOG`` (``udp://host:port``, ``tcp://host:port`` or
    ``unix:///path``), ``SSO_BRIDGE_EVENTS_JSONL`` (a file path), each with the personal
    fields of ``SSO_BRIDGE_EVENTS_PERSONAL`` (comma-separated; none by default)."""
    env = os.environ if environ is None else environ
    personal = check_personal(env.get("SSO_BRIDGE_EVENTS_PERSONAL", "").split(","))
    sinks: list[Sink] = []
    url = env.get("SSO_BRIDGE_WEBHOOK_URL")
    if url:
        secret = env.get("SSO_BRIDGE_WEBHOOK_SECRET", "")
        sinks.append(WebhookSink("webhook", url, secret, personal=personal))
    syslog = env.get("SSO_BRIDGE_SYSLOG")
    if syslog:
        scheme, _, rest = syslog.partition("://")
        if scheme not in ("udp", "tcp", "unix") or not rest:
            raise _bad("SSO_BRIDGE_SYSLOG must be udp://host:port, tcp://host:port or unix:///path")
        sinks.append(SyslogSink("syslog", rest, scheme, personal=personal))  # type: ignore[arg-type]
    path = env.get("SSO_BRIDGE_EVENTS_JSONL")
    if path:
        sinks.append(JsonLinesSink("jsonl", path, personal=personal))
    return EventsConfig(sinks=tuple(sinks))
