"""The syslog sink (RFC 5424 over UDP and TCP with octet counting, parsed back) and the
JSON lines sink; operational events reach them."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.clock import FixedClock
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.events import (
    Delivery,
    EventsConfig,
    InMemoryEventStore,
    JsonLinesSink,
    SyslogSink,
    operational,
)
from sso_bridge.events.syslog import BOM, sd_escape
from sso_bridge.observe.signals import signal

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
SYSLOG = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) "
    rb"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) "
    rb"(?P<msgid>[!-~]{1,32}) (?P<sd>\[(?:[^\]\\]|\\.)*\]) (?P<msg>.*)",
    re.DOTALL,
)


def parse(message: bytes) -> dict[str, Any]:
    found = SYSLOG.fullmatch(message)
    assert found is not None, message
    parts = found.groupdict()
    assert parts["msg"].startswith(BOM)
    return {**parts, "json": json.loads(parts["msg"][len(BOM) :])}


def deliver(sink: Any, count: int, make_event: Any) -> Delivery:
    clock = FixedClock(T0)
    audit = InMemoryAuditLog()
    for i in range(count):
        audit.record(make_event(i, T0))
    config = EventsConfig(sinks=(sink,), settle=timedelta(0), start="beginning")
    delivery = Delivery(config, audit, InMemoryEventStore(), clock=clock)
    assert delivery.run_once().delivered == {sink.name: count}
    return delivery


def test_syslog_over_udp_is_rfc_5424(make_event: Any) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(2)
    port = server.getsockname()[1]
    sink = SyslogSink("sys", f"127.0.0.1:{port}", "udp", hostname="bridge-1", facility=10)
    deliver(sink, 2, make_event).stop()
    messages = [parse(server.recv(65536)) for _ in range(2)]
    server.close()
    first = messages[0]
    assert int(first["pri"]) == 10 * 8 + 6  # authpriv, informational
    assert first["ts"] == b"2026-03-01T09:00:00.000000Z"
    assert (first["host"], first["app"], first["msgid"]) == (
        b"bridge-1",
        b"sso-bridge",
        b"audit.login",
    )
    assert first["proc"] == str(os.getpid()).encode()
    assert first["sd"] == b'[event@32473 id="audit-1" kind="audit.login"]'
    assert [m["json"]["event_id"] for m in messages] == ["audit-1", "audit-2"]
    assert "subject" not in first["json"]["fields"]


def test_syslog_over_tcp_uses_octet_counting(make_event: Any) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    chunks: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                chunks.append(data)

    reader = threading.Thread(target=accept)
    reader.start()
    deliver(SyslogSink("sys", f"127.0.0.1:{port}", "tcp"), 3, make_event).stop()
    reader.join(5)
    server.close()
    stream, frames = b"".join(chunks), []
    while stream:  # RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG
        length, _, rest = stream.partition(b" ")
        assert length.isdigit() and not length.startswith(b"0")
        frames.append(rest[: int(length)])
        stream = rest[int(length) :]
    assert [parse(f)["json"]["event_id"] for f in frames] == ["audit-1", "audit-2", "audit-3"]


def test_structured_data_values_are_escaped() -> None:
    assert sd_escape('a"b\\c]d') == 'a\\"b\\\\c\\]d'


def test_a_syslog_server_that_is_down_is_retried(make_event: Any) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    clock = FixedClock(T0)
    audit = InMemoryAuditLog()
    audit.record(make_event(1, T0))
    config = EventsConfig(
        sinks=(SyslogSink("sys", f"127.0.0.1:{port}", "tcp"),),
        settle=timedelta(0),
        start="beginning",
    )
    delivery = Delivery(config, audit, InMemoryEventStore(), clock=clock)
    result = delivery.run_once()
    assert result.failed == {"sys": "syslog: ConnectionRefusedError"}
    state = delivery.store.sink_state("sys")
    assert state is not None and state.cursor == 0 and state.attempts == 1


def test_json_lines_one_event_a_line_in_a_private_file(tmp_path: Path, make_event: Any) -> None:
    path = tmp_path / "events.jsonl"
    delivery = deliver(JsonLinesSink("file", str(path), fsync="always"), 3, make_event)
    delivery.ops.emit("store.unavailable", store="sql")
    delivery.run_once()
    delivery.stop()
    lines = path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event_id"] for e in events[:3]] == ["audit-1", "audit-2", "audit-3"]
    assert events[3]["kind"] == "store.unavailable" and events[3]["fields"] == {"store": "sql"}
    assert {e["schema"] for e in events} == {1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_operational_signals_are_coalesced_and_sent_best_effort(tmp_path: Path) -> None:
    path = tmp_path / "ops.jsonl"
    clock = FixedClock(T0)
    config = EventsConfig(sinks=(JsonLinesSink("file", str(path)),), queue_size=2)
    delivery = Delivery(config, InMemoryAuditLog(), InMemoryEventStore(), clock=clock)
    delivery.ops.listen()
    try:
        signal("store.unavailable", store="redis")
        signal("store.unavailable", store="redis")  # the same within a minute: once
        signal("readiness.failed", check="database", code="store.unavailable")
        signal("audit.unrecorded", action="login", account_id="a-1", error_code="store.unavailable")
    finally:
        delivery.ops.close()
    assert delivery.ops.dropped == 1  # the queue keeps 2: the oldest went
    hook = delivery.ops.alert_hook()
    hook(type("Alert", (), {"code": "session.ip_changed", "account_id": "a-1", "ip": "10.0.0.9"})())
    delivery.run_once()
    kinds = [json.loads(line)["kind"] for line in path.read_text().splitlines()]
    assert kinds == ["audit.unrecorded", "security.alert"]  # the two newest, in order
    assert delivery.ops.dropped == 2
    text = path.read_text()
    assert "a-1" not in text and "10.0.0.9" not in text  # no personal values by default


def test_an_operational_event_has_a_random_id() -> None:
    one, two = operational("x.y", T0), operational("x.y", T0)
    assert one.event_id != two.event_id and one.event_id.startswith("op-")


@pytest.mark.parametrize("transport", ["unix"])
def test_syslog_to_a_unix_datagram_socket(tmp_path: Path, make_event: Any, transport: str) -> None:
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    deliver(SyslogSink("sys", path, transport), 1, make_event).stop()
    assert parse(server.recv(65536))["json"]["event_id"] == "audit-1"
    server.close()
