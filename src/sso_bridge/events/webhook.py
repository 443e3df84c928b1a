"""The webhook sink: each event POSTed as JSON, signed with HMAC-SHA256 (docs/events.md).

Headers: ``Sso-Bridge-Event-Id`` (the dedup key), ``Sso-Bridge-Timestamp`` (Unix
seconds at sending) and ``Sso-Bridge-Signature: v1=<hex>``, the HMAC-SHA256 under the
sink's secret of ``"<timestamp>.<body>"``. A 2xx answer delivers the event; 408, 429, 5xx,
a refused or timed-out connection are retried; any other 4xx is permanent (dead letter).
Redirects are not followed, and at most ``max_answer_bytes`` of the answer is read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs
import httpx

from sso_bridge.events.config import WebhookSink

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Outcome",
    "WebhookSender",
    "sign",
    "verify_signature",
]

EVENT_ID_HEADER: Final = "Sso-Bridge-Event-Id"
TIMESTAMP_HEADER: Final = "Sso-Bridge-Timestamp"
SIGNATURE_HEADER: Final = "Sso-Bridge-Signature"
_RETRIED: Final = frozenset({408, 429})


@attrs.frozen
class Outcome:
    """What a sink made of one event: ``ok``, or not, and then whether it is
    ``permanent``; the HTTP ``status`` and a short ``reason``; a ``retry_after`` the
    receiver asked for."""

    ok: bool
    permanent: bool = False
    status: int | None = None
    reason: str = ""
    retry_after: timedelta | None = None


DELIVERED: Final = Outcome(ok=True)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    skew: timedelta = timedelta(minutes=5),
) -> bool:
    """Whether ``body`` with ``headers`` was signed under ``secret`` no more than ``skew``
    from ``now`` (what a receiver checks; docs/events.md has it in plain Python too)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs(now.timestamp() - int(stamp)) > skew.total_seconds():
        return False
    expected = sign(secret, int(stamp), body)
    return any(hmac.compare_digest(expected, part.strip()) for part in given.split(","))


def _retry_after(value: str | None, cap: timedelta) -> timedelta | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(timedelta(seconds=int(value.strip()[:9])), cap)


class WebhookSender:
    """Sends events to one :class:`~sso_bridge.events.config.WebhookSink`."""

    def __init__(self, sink: WebhookSink, client: httpx.Client | None = None) -> None:
        self.sink = sink
        timeout = httpx.Timeout(
            connect=sink.connect_timeout,
            read=sink.read_timeout,
            write=sink.read_timeout,
            pool=sink.connect_timeout,
        )
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, event_id: str, body: bytes, now: datetime) -> Outcome:
        """POST one event's ``body``; never raises."""
        stamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: event_id,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.sink.secret, stamp, body),
        }
        try:
            with self._client.stream(
                "POST", self.sink.url, content=body, headers=headers
            ) as answer:
                read = 0
                for chunk in answer.iter_raw():
                    read += len(chunk)
                    if read >= self.sink.max_answer_bytes:
                        break
                status = answer.status_code
                wait = _retry_after(answer.headers.get("Retry-After"), timedelta(hours=1))
        except httpx.TimeoutException:
            return Outcome(ok=False, reason="timeout")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, reason=f"unreachable: {type(exc).__name__}")
        if 200 <= status < 300:
            return DELIVERED
        permanent = 400 <= status < 500 and status not in _RETRIED
        return Outcome(
            ok=False, permanent=permanent, status=status, reason=f"http {status}", retry_after=wait
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()
