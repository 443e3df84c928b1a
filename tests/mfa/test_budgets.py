"""Account-wide limits of the second factor and unknown logins (docs/mfa.md, "Limits")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.clock import NOW
from sso_bridge.cli.main import main
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.mfa.challenges import CodeChallenges
from sso_bridge.mfa.credentials import InMemoryCredentialStore
from sso_bridge.mfa.errors import AccountLocked, BadPassword, MfaError, WrongCode
from sso_bridge.mfa.limits import Limit, Limiter, LimitPolicy, SecondFactorBudget
from sso_bridge.mfa.otp import totp
from sso_bridge.mfa.passwords import LocalPasswords, password_hasher
from sso_bridge.mfa.sender import OutboxSender
from sso_bridge.mfa.totp import TotpVerifier
from sso_bridge.store import open_ephemeral_store
from sso_bridge.store.memory import InMemoryEphemeralStore

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
SECRET = b"12345678901234567890"
PHONE = "+7 912 345-67-67"
SECOND = timedelta(seconds=1)
CHEAP = password_hasher(time_cost=1, memory_cost=64, parallelism=1)


class World:
    def __init__(self, limits: LimitPolicy | None = None) -> None:
        self.store = InMemoryEphemeralStore()
        self.outbox = OutboxSender()
        self.credentials = InMemoryCredentialStore()
        self.credentials.set_totp("a1", SECRET)
        self.challenges = CodeChallenges(
            self.store,
            self.outbox,
            KEY,
            totp=TotpVerifier(self.credentials),
            limits=limits or LimitPolicy(),
        )
        self.passwords = LocalPasswords(
            self.credentials,
            hasher=CHEAP,
            store=self.store,
            second_factor=self.challenges.budget,
        )


def _code(step_offset: int = 0) -> str:
    return totp(SECRET, int(NOW.timestamp()) + 30 * step_offset)


def _wrong() -> str:
    return f"{(int(_code()) + 1) % 1000000:06d}"


def _refused(call: object, code: str) -> BridgeError:
    assert callable(call)
    with pytest.raises(BridgeError) as exc:
        call()
    assert exc.value.code == code, exc.value
    return exc.value


def test_fifteen_wrong_codes_across_three_challenges_lock_the_second_factor() -> None:
    w = World()
    first = w.challenges.start("a1", "totp", None, NOW)
    answers = [_verdict(w, first.challenge_id, _wrong()) for _ in range(5)]
    assert answers == ["mfa.wrong_code"] * 4 + ["mfa.too_many_attempts"]
    second = w.challenges.start("a1", "totp", None, NOW)
    answers = [_verdict(w, second.challenge_id, _wrong()) for _ in range(5)]
    # the tenth wrong code spends the account's budget
    assert answers == ["mfa.wrong_code"] * 4 + ["mfa.second_factor_locked"]
    # a new login buys no fresh guesses, and the right code is not taken
    error = _refused(
        lambda: w.challenges.start("a1", "totp", None, NOW), "mfa.second_factor_locked"
    )
    assert error.retry_after == timedelta(minutes=30)
    assert _verdict(w, second.challenge_id, _code()) == "mfa.challenge_unknown"


def _verdict(w: World, challenge_id: str, code: str) -> str:
    try:
        w.challenges.verify(challenge_id, "a1", code, NOW)
    except MfaError as exc:
        return exc.code
    return "passed"


def test_the_right_code_is_refused_once_the_budget_is_spent() -> None:
    w = World(LimitPolicy(second_factor_failures=Limit(3, timedelta(hours=1))))
    first = w.challenges.start("a1", "totp", None, NOW)
    second = w.challenges.start("a1", "totp", None, NOW)
    for _ in range(2):
        _refused(
            lambda: w.challenges.verify(first.challenge_id, "a1", _wrong(), NOW), "mfa.wrong_code"
        )
    _refused(
        lambda: w.challenges.verify(first.challenge_id, "a1", _wrong(), NOW),
        "mfa.second_factor_locked",
    )
    # another challenge opened before the lock does not let the right code through
    _refused(
        lambda: w.challenges.verify(second.challenge_id, "a1", _code(), NOW),
        "mfa.second_factor_locked",
    )


def test_the_lock_ends_by_itself_and_the_count_starts_again() -> None:
    limits = LimitPolicy(
        second_factor_failures=Limit(2, timedelta(hours=1)),
        second_factor_lockout=timedelta(minutes=10),
    )
    w = World(limits)
    challenge = w.challenges.start("a1", "totp", None, NOW)
    _refused(
        lambda: w.challenges.verify(challenge.challenge_id, "a1", _wrong(), NOW), "mfa.wrong_code"
    )
    _refused(
        lambda: w.challenges.verify(challenge.challenge_id, "a1", _wrong(), NOW),
        "mfa.second_factor_locked",
    )
    later = NOW + timedelta(minutes=10)
    again = w.challenges.start("a1", "totp", None, later)
    _refused(
        lambda: w.challenges.verify(again.challenge_id, "a1", _wrong(), later), "mfa.wrong_code"
    )
    w.challenges.verify(again.challenge_id, "a1", _code(20), later)


def test_an_administrators_unlock_lifts_the_second_factor_lock() -> None:
    limits = LimitPolicy(
        second_factor_failures=Limit(1, timedelta(hours=1)), second_factor_lockout=None
    )
    w = World(limits)
    challenge = w.challenges.start("a1", "totp", None, NOW)
    _refused(
        lambda: w.challenges.verify(challenge.challenge_id, "a1", _wrong(), NOW),
        "mfa.second_factor_locked",
    )
    years = NOW + timedelta(days=300)
    error = _refused(
        lambda: w.challenges.start("a1", "totp", None, years), "mfa.second_factor_locked"
    )
    assert error.retry_after is None  # only an administrator lifts it
    w.passwords.unlock("a1")
    again = w.challenges.start("a1", "totp", None, NOW)
    w.challenges.verify(again.challenge_id, "a1", _code(), NOW)


def test_codes_sent_are_capped_per_account() -> None:
    w = World(LimitPolicy(codes_per_account=Limit(3, timedelta(minutes=15))))
    for _ in range(3):
        w.challenges.start("a1", "sms", PHONE, NOW)
    error = _refused(lambda: w.challenges.start("a1", "sms", PHONE, NOW), "mfa.account_code_limit")
    assert error.retry_after == timedelta(minutes=15)
    assert len(w.outbox.outbox) == 3
    # another account is not held back by this one's cap
    w.challenges.start("a2", "sms", "+7 900 000-00-01", NOW)
    w.challenges.start("a1", "sms", PHONE, NOW + timedelta(minutes=15))


def test_codes_sent_are_capped_per_phone_number_whatever_its_spelling() -> None:
    limits = LimitPolicy(codes_per_account=None, codes_per_destination=Limit(2, timedelta(hours=1)))
    w = World(limits)
    w.challenges.start("a1", "sms", "+7 (912) 345-67-67", NOW)
    w.challenges.start("a2", "sms", "89123456767", NOW)
    _refused(
        lambda: w.challenges.start("a3", "sms", "+79123456767", NOW), "mfa.destination_code_limit"
    )
    assert len(w.outbox.outbox) == 2


def test_resends_count_against_the_cap() -> None:
    w = World(LimitPolicy(codes_per_account=Limit(2, timedelta(minutes=15))))
    challenge = w.challenges.start("a1", "sms", PHONE, NOW)
    later = NOW + timedelta(seconds=31)
    w.challenges.resend(challenge.challenge_id, "a1", later)
    evenlater = later + timedelta(seconds=31)
    _refused(
        lambda: w.challenges.resend(challenge.challenge_id, "a1", evenlater),
        "mfa.account_code_limit",
    )
    # the challenge stays open with its last code
    assert w.challenges.get(challenge.challenge_id, "a1", evenlater) is not None


def test_without_limits_nothing_is_counted() -> None:
    store = InMemoryEphemeralStore()
    challenges = CodeChallenges(store, OutboxSender(), KEY)
    for _ in range(20):
        challenge = challenges.start("a1", "sms", PHONE, NOW)
        with pytest.raises(WrongCode):
            challenges.verify(challenge.challenge_id, "a1", "000000x", NOW)
    assert len(store) == 20  # the challenges only


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ConfigError):
        Limit(0, timedelta(minutes=1))
    with pytest.raises(ConfigError):
        Limit(1, timedelta(0))
    with pytest.raises(ConfigError):
        LimitPolicy(second_factor_lockout=timedelta(0))


def test_a_limiter_reports_the_wait_until_its_window_ends() -> None:
    limiter = Limiter(InMemoryEphemeralStore())
    limit = Limit(2, timedelta(minutes=5))
    assert limiter.hit("x", "10.0.0.1", limit, NOW) is None
    assert limiter.hit("x", "10.0.0.1", limit, NOW + timedelta(minutes=1)) is None
    assert limiter.hit("x", "10.0.0.1", limit, NOW + timedelta(minutes=2)) == timedelta(minutes=3)
    assert limiter.hit("x", "10.0.0.2", limit, NOW + timedelta(minutes=2)) is None
    assert limiter.hit("x", "10.0.0.1", None, NOW) is None
    assert limiter.hit("x", "10.0.0.1", limit, NOW + timedelta(minutes=5)) is None


def test_budgets_are_shared_by_challenge_sets_over_one_store() -> None:
    w = World(LimitPolicy(second_factor_failures=Limit(2, timedelta(hours=1))))
    other = CodeChallenges(
        w.store, w.outbox, KEY, totp=TotpVerifier(w.credentials), limits=w.challenges.limits
    )
    first = w.challenges.start("a1", "totp", None, NOW)
    _refused(lambda: w.challenges.verify(first.challenge_id, "a1", _wrong(), NOW), "mfa.wrong_code")
    second = other.start("a1", "totp", None, NOW)
    _refused(
        lambda: other.verify(second.challenge_id, "a1", _wrong(), NOW), "mfa.second_factor_locked"
    )
    budget = SecondFactorBudget(w.store)
    _refused(lambda: budget.check("a1", NOW), "mfa.second_factor_locked")


# -- unknown logins ---------------------------------------------------------------------------


def _answers(passwords: LocalPasswords, attempt: object) -> list[tuple[str, str]]:
    found = []
    assert callable(attempt)
    for _ in range(7):
        with pytest.raises(BridgeError) as exc:
            attempt()
        found.append((exc.value.code, exc.value.message))
    return found


@pytest.mark.parametrize("lockout", [None, timedelta(minutes=20)])
def test_an_unknown_login_locks_after_five_tries_like_a_real_one(
    lockout: timedelta | None,
) -> None:
    credentials = InMemoryCredentialStore()
    store = InMemoryEphemeralStore()
    passwords = LocalPasswords(credentials, hasher=CHEAP, store=store, lockout=lockout)
    passwords.set_password("a1", "Real-pass-1", NOW)
    real = _answers(passwords, lambda: passwords.check("a1", "wrong-pass-1", NOW))
    unknown = _answers(
        passwords, lambda: passwords.check_unknown_login("sch1", "nobody", "wrong-pass-1", NOW)
    )
    assert real == unknown
    assert [code for code, _ in real] == ["auth.bad_password"] * 4 + ["auth.locked"] * 3
    # counted per organisation and login: another login is not locked
    with pytest.raises(BadPassword):
        passwords.check_unknown_login("sch1", "somebody", "wrong-pass-1", NOW)
    with pytest.raises(AccountLocked):
        passwords.check_unknown_login("sch1", " NOBODY ", "wrong-pass-1", NOW)
    if lockout is not None:
        with pytest.raises(BadPassword):
            passwords.check_unknown_login("sch1", "nobody", "x", NOW + lockout)


def test_the_cli_unlock_lifts_the_second_factor_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSO_BRIDGE_DB", f"sqlite:///{tmp_path / 'region.db'}")
    monkeypatch.delenv("SSO_BRIDGE_KEY", raising=False)
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    data = sorted((ROOT / "examples" / "data").glob("*.csv"))
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "import", *map(str, data)]).exit_code == 0
    url = f"sqlite:///{tmp_path / 'ephemeral.db'}"
    store = open_ephemeral_store(url)
    budget = SecondFactorBudget(store, LimitPolicy(second_factor_failures=Limit(1, SECOND)))
    budget.failed("s17-t-001", datetime.now(UTC))
    _refused(lambda: budget.check("s17-t-001", datetime.now(UTC)), "mfa.second_factor_locked")
    unlocked = runner.invoke(main, ["accounts", "unlock", "s17-t-001", "--ephemeral-url", url])
    assert unlocked.exit_code == 0, unlocked.output
    budget.check("s17-t-001", datetime.now(UTC))
