"""Challenges shared by several processes through Redis: no attempt is spent twice."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator

import pytest

from helpers.clock import NOW
from sso_bridge.errors import BridgeError
from sso_bridge.mfa.challenges import CodeChallenges
from sso_bridge.mfa.errors import WrongCode
from sso_bridge.mfa.sender import OutboxSender
from sso_bridge.store.redis import RedisEphemeralStore

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
KEY = bytes(range(32))
PHONE = "+79123456767"
PROCESSES = 12


@pytest.fixture
def stores() -> Iterator[list[RedisEphemeralStore]]:
    """One store (one client) per simulated process, all under a prefix of this test."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    prefix = f"t-mfa-{secrets.token_hex(6)}:"
    opened = [RedisEphemeralStore.from_url(url, prefix) for _ in range(PROCESSES)]
    try:
        yield opened
    finally:
        client = opened[0].client
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        for store in opened:
            store.close()


def test_concurrent_wrong_codes_each_spend_their_own_attempt(
    stores: list[RedisEphemeralStore],
) -> None:
    outbox = OutboxSender()
    processes = [CodeChallenges(store, outbox, KEY) for store in stores]
    challenge = processes[0].start("a1", "sms", PHONE, NOW)
    code = outbox.last_code_for(PHONE)
    assert code is not None
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    barrier = threading.Barrier(PROCESSES)
    outcomes: list[BridgeError] = []
    lock = threading.Lock()

    def attempt(process: CodeChallenges) -> None:
        barrier.wait()
        try:
            process.verify(challenge.challenge_id, "a1", wrong, NOW)
        except BridgeError as exc:
            with lock:
                outcomes.append(exc)

    threads = [threading.Thread(target=attempt, args=(p,)) for p in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == PROCESSES
    left = [e.attempts_left for e in outcomes if isinstance(e, WrongCode)]
    killed = [e for e in outcomes if e.code == "mfa.too_many_attempts"]
    assert len(left) == len(set(left))  # no two verifications used the same attempt
    assert len(left) + len(killed) <= 5
    assert {e.code for e in outcomes} <= {
        "mfa.wrong_code",
        "mfa.too_many_attempts",
        "mfa.challenge_unknown",
    }
    shown = processes[1].get(challenge.challenge_id, "a1", NOW)
    if killed:
        assert shown is None
    else:
        assert shown is not None
        assert shown.attempts == len(left)
        assert processes[2].verify(challenge.challenge_id, "a1", code, NOW).attempts == len(left)
