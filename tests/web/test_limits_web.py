"""A refusal by a limit is answered 429 with ``Retry-After``, on every framework."""

from __future__ import annotations

from datetime import timedelta

import attrs

from sso_bridge.mfa.limits import Limit, LimitPolicy
from web.support import World


def test_limit_refusals_carry_retry_after(world: World) -> None:
    five_minutes = Limit(1, timedelta(minutes=5))
    limits = LimitPolicy(logins_per_ip=five_minutes, idp_starts_per_ip=five_minutes)
    world.broker.policy = attrs.evolve(world.broker.policy, limits=limits)
    wrong = world.local_login(password="Wrong-pass-1")
    assert wrong.status_code == 401
    assert "retry-after" not in wrong.headers
    refused = world.local_login()
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "300"
    assert world.browser.get("/auth/login/esia").status_code in (302, 303)
    again = world.browser.get("/auth/login/esia")
    assert again.status_code == 429
    assert again.headers["retry-after"] == "300"
    assert "broker.ip_start_limit" in again.text
