"""The outbox sender and the message that carries a code."""

from __future__ import annotations

from sso_bridge.mfa.sender import Message, OutboxSender, code_message


def test_message_text_is_russian_and_carries_the_code() -> None:
    text = code_message("123456", 5)
    assert text.startswith("Код для входа: 123456.")
    assert "Никому не сообщайте" in text
    assert "5 мин" in text


def test_outbox_keeps_messages_and_finds_the_last_code() -> None:
    outbox = OutboxSender()
    assert outbox.last_code_for("+79123456767") is None
    outbox.send(Message("sms", "+79123456767", code_message("111111", 5), "a1"))
    outbox.send(Message("email", "m@example.org", code_message("22222222", 5), "a1"))
    outbox.send(Message("sms", "+79123456767", code_message("333333", 5), "a1"))
    assert [m.channel for m in outbox.outbox] == ["sms", "email", "sms"]
    assert outbox.last_code_for("+79123456767") == "333333"
    assert outbox.last_code_for("m@example.org") == "22222222"
    assert outbox.last_code_for("+70000000000") is None


def test_code_is_not_taken_from_longer_numbers() -> None:
    outbox = OutboxSender()
    outbox.send(Message("sms", "+7", "заказ 1234567 готов", "a1"))
    assert outbox.last_code_for("+7") is None


def test_message_repr_hides_the_code_and_destination() -> None:
    shown = repr(Message("sms", "+79123456767", code_message("654321", 5), "a1"))
    assert "654321" not in shown
    assert "9123456767" not in shown
    assert "a1" in shown
