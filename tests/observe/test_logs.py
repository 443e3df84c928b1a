"""The JSON formatter, configure_logging, request ids and the security events."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest

from observe.conftest import Lines
from sso_bridge.errors import StoreError
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.observe import (
    REQUEST_ID,
    Exchange,
    JsonFormatter,
    accept_request_id,
    configure_logging,
    log_audit_event,
    log_unrecorded,
)


def _record(
    msg: object = "hello %s", args: object = ("there",), **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("sso_bridge.test", logging.WARNING, "f.py", 3, msg, args, None)  # type: ignore[arg-type]
    record.__dict__.update(extra)
    return record


def test_a_line_has_the_fields_and_extras() -> None:
    token = REQUEST_ID.set("abc")
    try:
        line = JsonFormatter().format(_record(event="thing.done", step="callback", ip="10.0.0.1"))
    finally:
        REQUEST_ID.reset(token)
    value = json.loads(line)
    assert value["level"] == "WARNING" and value["logger"] == "sso_bridge.test"
    assert value["message"] == "hello there" and value["event"] == "thing.done"
    assert value["request_id"] == "abc" and value["step"] == "callback"
    assert "ip" not in value  # addresses only with include_ip
    assert datetime.fromisoformat(value["ts"]).tzinfo == UTC and value["ts"].endswith("Z")
    assert (
        json.loads(JsonFormatter(include_ip=True).format(_record(ip="10.0.0.1")))["ip"]
        == "10.0.0.1"
    )


def test_odd_values_and_exceptions_stay_on_one_line() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    try:
        raise ValueError("line one\nline two")
    except ValueError:
        record = _record("bad %d", ("x",), thing=Broken(), data=b"\xff", many={1, 2})
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    value = json.loads(line)
    assert value["thing"] == "<Broken>" and value["exc_type"] == "ValueError"
    assert "line two" in value["exc"] and value["message"] == "bad %d"


def test_configure_logging_writes_json_lines() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    try:
        configure_logging("INFO", stream=stream)
        handler = configure_logging("INFO", stream=stream)  # replaces, never doubles
        assert [h for h in root.handlers if h not in before] == [handler]
        logging.getLogger("sso_bridge.x").info("one", extra={"event": "x.one"})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        configure_logging.__globals__["_settings"]["include_ip"] = False
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["event"] == "x.one"


@pytest.mark.parametrize("given", ["0f" * 16, "req-1", "a.b:c_d", "7" * 128])
def test_plain_request_ids_are_kept(given: str) -> None:
    assert accept_request_id(given) == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "a b", "<x>", "-lead", "é", "a\nb"])
def test_other_request_ids_are_replaced(given: str | None) -> None:
    made = accept_request_id(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0


def test_an_exchange_logs_once_and_nests(lines: Lines) -> None:
    outer = Exchange.open("GET", "/a?q=secret", "rid-1", "10.1.1.1")
    inner = Exchange.open("GET", "/a", "other")
    assert inner.request_id == "rid-1" and inner.nested
    logging.getLogger("sso_bridge.x").info("during")
    inner.close(200)
    outer.close(200)
    outer.close(200)
    assert REQUEST_ID.get() is None
    logged = [json.loads(line) for line in lines.lines]
    assert [x["request_id"] for x in logged] == ["rid-1", "rid-1"]
    request = logged[1]
    assert request["logger"] == "sso_bridge.request" and request["path"] == "/a"
    assert request["status"] == 200 and request["duration_ms"] >= 0 and "ip" not in request


def _event(action: AuditAction, **fields: str) -> AuditEvent:
    now = datetime(2026, 9, 1, 8, tzinfo=UTC)
    return AuditEvent(action, now, "web", **fields)  # type: ignore[arg-type]


def test_security_events_carry_codes_and_ids_only(lines: Lines) -> None:
    event = _event(
        AuditAction.LOGIN_REFUSED,
        issuer="https://esia.example/",
        subject="1000000101",
        account_id="t1",
        ip="10.2.2.2",
        code="auth.bad_credentials",
        detail="Смирнова 123-456-789 64",
        user_agent="Firefox",
    )
    log_audit_event(event)
    log_unrecorded(event, StoreError("down", code="store.unavailable"))
    refused, unrecorded = (json.loads(line) for line in lines.lines)
    assert refused["level"] == "WARNING" and refused["event"] == "audit.recorded"
    assert {k: refused[k] for k in ("action", "code", "issuer", "account_id")} == {
        "action": "login_refused",
        "code": "auth.bad_credentials",
        "issuer": "https://esia.example/",
        "account_id": "t1",
    }
    assert unrecorded["level"] == "ERROR" and unrecorded["event"] == "audit.unrecorded"
    assert unrecorded["error_code"] == "store.unavailable"
    for line in lines.lines:
        for secret in ("1000000101", "10.2.2.2", "Смирнова", "123-456", "Firefox"):
            assert secret not in line
