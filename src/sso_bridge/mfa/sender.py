"""Delivering one-time codes: the :class:`Sender` port and an outbox for tests and demos."""

from __future__ import annotations

import re
import threading
from typing import Literal, Protocol

import attrs

__all__ = ["Channel", "Message", "OutboxSender", "Sender", "code_message"]

Channel = Literal["sms", "email"]

_CODE = re.compile(r"(?<!\d)(\d{8}|\d{6})(?!\d)")


@attrs.frozen
class Message:
    """One message to deliver. ``text`` carries the code and stays out of ``repr``."""

    channel: Channel
    destination: str = attrs.field(repr=False)
    text: str = attrs.field(repr=False)
    account_id: str


def code_message(code: str, minutes: int) -> str:
    """The text that carries ``code`` to the person (in Russian)."""
    return (
        f"Код для входа: {code}. Действует {minutes} мин. "
        "Никому не сообщайте его, даже сотрудникам школы."
    )


class Sender(Protocol):
    """Delivers a message by SMS or e-mail; raises a BridgeError when it cannot."""

    def send(self, message: Message) -> None: ...


class OutboxSender:
    """A :class:`Sender` that only keeps what it is given, in order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outbox: list[Message] = []

    def send(self, message: Message) -> None:
        with self._lock:
            self.outbox.append(message)

    def last_code_for(self, destination: str) -> str | None:
        """The 6- or 8-digit code in the last message sent to ``destination``, or None."""
        with self._lock:
            sent = [m for m in self.outbox if m.destination == destination]
        if not sent:
            return None
        found = _CODE.search(sent[-1].text)
        return found.group(1) if found else None
