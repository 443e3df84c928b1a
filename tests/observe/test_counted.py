"""Counters move on logins, refusals and session checks; request ids; no personal data."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from observe.conftest import Lines, Served
from sso_bridge.observe import Observe, log_audit_event
from sso_bridge.observe.metrics import Metrics, instrument_engine
from web.support import DIRECTOR, DIRECTOR_PHONE, PASSWORD, SUBJECT, TEACHER, World, field


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_counters_move_on_a_login_and_a_refusal(
    observed: Served, registry: CollectorRegistry, lines: Lines
) -> None:
    world = observed(Observe(registry=registry, metrics_endpoint=True))
    assert world.browser.get("/grades").status_code in (302, 303)  # no session yet
    refused = world.local_login(password="wrong-password")
    assert refused.status_code == 401
    outcome = "refused:auth"  # the family of the wrong password's code
    assert _value(registry, "sso_bridge_logins_total", provider="local", outcome=outcome) == 1
    assert world.local_login().status_code == 303
    assert _value(registry, "sso_bridge_logins_total", provider="local", outcome="logged_in") == 1
    assert world.browser.get("/grades").status_code == 200
    assert _value(registry, "sso_bridge_session_validations_total", result="ok") >= 1
    assert _value(registry, "sso_bridge_session_validations_total", result="refused") == 1
    assert _value(registry, "sso_bridge_session_refusals_total", reason="session.missing") == 1
    assert _value(registry, "sso_bridge_step_seconds_count", step="local_login") == 2

    world.link(world.oidc.issuer)
    assert world.oidc_login().status_code == 302
    assert _value(registry, "sso_bridge_logins_total", provider="esia", outcome="logged_in") == 1
    assert _value(registry, "sso_bridge_step_seconds_count", step="start") == 1
    assert _value(registry, "sso_bridge_step_seconds_count", step="callback") == 1

    # the directory's engine is measured without host code
    assert _value(registry, "sso_bridge_pool_size", pool="database") >= 1
    statements = sum(
        sample.value
        for family in registry.collect()
        if family.name == "sso_bridge_store_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    )
    assert statements > 0
    scraped = world.browser.get("/auth/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    assert 'sso_bridge_logins_total{outcome="logged_in",provider="esia"} 1.0' in scraped.text
    _request_ids(world, lines)


def test_a_second_factor_is_counted_and_nothing_personal_is_logged(
    observed: Served, registry: CollectorRegistry, lines: Lines
) -> None:
    world = observed(Observe(registry=registry))
    page = world.local_login(login="ivanov", org="sch2")
    assert page.status_code == 200, page.text
    assert _value(registry, "sso_bridge_second_factors_total", channel="sms", result="opened") == 1
    wrong = world.browser.post(
        "/auth/second-factor", data={"step_id": field(page.text, "step_id"), "code": "000000x"}
    )
    assert wrong.status_code == 401
    code = world.sender.last_code_for(DIRECTOR_PHONE)
    assert code is not None
    done = world.browser.post(
        "/auth/second-factor", data={"step_id": field(wrong.text, "step_id"), "code": code}
    )
    assert done.status_code == 303
    assert _value(registry, "sso_bridge_second_factors_total", channel="sms", result="failed") == 1
    # the code step does not know the channel (the broker's answer does not say it)
    assert _value(registry, "sso_bridge_second_factors_total", channel="-", result="passed") == 1
    assert _value(registry, "sso_bridge_logins_total", provider="local", outcome="logged_in") == 1
    world.link(world.oidc.issuer)
    assert world.oidc_login().status_code == 302
    for event in world.audit.events():
        log_audit_event(event)  # as the broker will after each audit write

    personal = [
        code,
        PASSWORD,
        DIRECTOR_PHONE,
        "555-12-34",
        TEACHER.snils or "",
        "123-456-789",
        DIRECTOR.last_name,
        DIRECTOR.first_name,
    ]
    # the host's own server logs addresses; ours never (IPs are off) nor the subject
    ours = [line for line in lines.lines if json.loads(line)["logger"].startswith("sso_bridge")]
    assert lines.lines, "nothing was logged"
    requests = [json.loads(line) for line in lines.lines if '"sso_bridge.request"' in line]
    assert len(requests) >= 6
    assert {"method", "path", "status", "duration_ms", "request_id"} <= set(requests[0])
    security = [line for line in lines.lines if '"sso_bridge.security"' in line]
    assert security
    for line in lines.lines:
        for secret in filter(None, personal):
            assert secret not in line, (secret, line)
    for line in ours:
        assert SUBJECT not in line, line
        assert "ip" not in json.loads(line), line


def _request_ids(world: World, lines: Lines) -> None:
    """The request id is taken when plain, echoed, and carried by the request's lines."""
    given = world.browser.get("/auth/login", headers={"X-Request-ID": "req-42.a:b_c"})
    assert given.headers["x-request-id"] == "req-42.a:b_c"
    logged = [json.loads(line) for line in lines.lines]
    mine = [x for x in logged if x["request_id"] == "req-42.a:b_c"]
    assert [x["path"] for x in mine if x["logger"] == "sso_bridge.request"] == ["/auth/login"]
    for bad in ("<script>", "x" * 200, "a b"):
        answered = world.browser.get("/auth/healthz", headers={"X-Request-ID": bad})
        made = answered.headers["x-request-id"]
        assert made != bad and len(made) == 32 and int(made, 16) >= 0
    fresh = world.browser.get("/grades")
    assert len(fresh.headers["x-request-id"]) == 32


def test_the_pool_gauges_read_the_pool_when_scraped(tmp_path: Path) -> None:
    """Connections in use, size and overflow are what the pool holds at the scrape."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = sa.create_engine(f"sqlite:///{tmp_path}/pool.db", poolclass=sa.pool.QueuePool)
    instrument_engine(engine, metrics, pool="p")
    before = _value(registry, "sso_bridge_pool_in_use", pool="p")
    first, second = engine.connect(), engine.connect()
    assert _value(registry, "sso_bridge_pool_in_use", pool="p") == before + 2
    assert _value(registry, "sso_bridge_pool_size", pool="p") == 5
    first.close()
    assert _value(registry, "sso_bridge_pool_in_use", pool="p") == before + 1
    second.close()
    engine.dispose()
    assert _value(registry, "sso_bridge_pool_in_use", pool="p") == before
