"""An unknown login and a wrong password for a real one answer alike, in words and in time.

Real argon2id with modest parameters: the broker's hasher costs about 20 ms a check, and
the account's stored hash was made with far cheaper ones (as the demo's seed once did),
so only the topping up of cheap hashes keeps the two answers equally slow.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

from helpers.broker import build_world
from sso_bridge.broker import Broker, LocalLoginForm
from sso_bridge.broker.config import Client
from sso_bridge.mfa import LocalPasswords, password_hasher

TRIES = 50
MODEST = password_hasher(time_cost=3, memory_cost=16 * 1024, parallelism=1)
WEAKER = password_hasher(time_cost=1, memory_cost=1024, parallelism=1)


def _timed(broker: Broker, client: Client, login: str) -> tuple[float, tuple[str, str]]:
    form = broker.begin_local(client)
    started = time.perf_counter()
    reply = broker.local_login(form.step_id, "sch1", login, "Wrong-pass-1", client)
    spent = time.perf_counter() - started
    assert isinstance(reply, LocalLoginForm) and reply.error is not None
    return spent, (reply.error.code, reply.error.message)


def test_an_unknown_login_costs_and_reads_like_a_wrong_password(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    broker = world.broker_like(password_hasher=MODEST)
    # the account's hash predates the current parameters and is much cheaper
    LocalPasswords(world.credentials, hasher=WEAKER).set_password(
        "t-maria", "Real-pass-1", world.clock.now()
    )
    stored = world.credentials.get("t-maria")
    assert stored is not None and stored.password_hash is not None
    assert MODEST.check_needs_rehash(stored.password_hash)
    client = world.client()
    for login in ("smirnova", "nobody-warm-up"):  # the first calls load what they need
        _timed(broker, client, login)
    known, unknown = [], []
    answers = set()
    for i in range(TRIES):
        broker.passwords.unlock("t-maria")  # so that every try checks the password
        world.clock.advance(timedelta(seconds=1))
        spent, answer = _timed(broker, client, "smirnova")
        known.append(spent)
        answers.add(answer)
        # a login named once only: never locked, so every try hashes as well
        spent, answer = _timed(broker, client, f"nobody-{i}")
        unknown.append(spent)
        answers.add(answer)
    assert answers == {("auth.bad_password", "wrong organisation, login or password")}
    slow, fast = statistics.median(known), statistics.median(unknown)
    assert abs(slow - fast) <= 0.10 * max(slow, fast), (slow, fast)
