"""One-time code challenges: attempts, expiry, single use, resends, hashing, TOTP."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

import pytest

from helpers.clock import NOW
from sso_bridge.errors import BridgeError, ConfigError, InvalidInput
from sso_bridge.mfa.challenges import KIND, Challenge, CodeChallenges, _Entry, mask_destination
from sso_bridge.mfa.credentials import InMemoryCredentialStore
from sso_bridge.mfa.errors import MfaError, TotpStepReused, WrongCode
from sso_bridge.mfa.otp import totp
from sso_bridge.mfa.sender import Message, OutboxSender
from sso_bridge.mfa.totp import TotpVerifier
from sso_bridge.store.memory import InMemoryEphemeralStore

KEY = bytes(range(32))
PHONE = "+7 912 345-67-67"
SECRET = b"12345678901234567890"


class Fixture:
    def __init__(self, **options: object) -> None:
        self.store = InMemoryEphemeralStore()
        self.outbox = OutboxSender()
        self.credentials = InMemoryCredentialStore()
        self.challenges = CodeChallenges(
            self.store,
            self.outbox,
            KEY,
            totp=TotpVerifier(self.credentials),
            **options,  # type: ignore[arg-type]
        )

    def start(self, now: datetime = NOW, account_id: str = "a1") -> tuple[Challenge, str]:
        challenge = self.challenges.start(account_id, "sms", PHONE, now)
        code = self.outbox.last_code_for(PHONE)
        assert code is not None
        return challenge, code


@pytest.fixture
def f() -> Fixture:
    return Fixture()


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1000000:06d}"


def _refused(call: object, code: str) -> BridgeError:
    assert callable(call)
    with pytest.raises(BridgeError) as exc:
        call()
    assert exc.value.code == code
    return exc.value


def test_start_sends_a_code_and_describes_the_challenge(f: Fixture) -> None:
    challenge, code = f.start()
    assert len(code) == 6
    assert code.isdigit()
    [message] = f.outbox.outbox
    assert (message.channel, message.destination, message.account_id) == ("sms", PHONE, "a1")
    assert message.text.startswith(f"Код для входа: {code}.")
    assert challenge.account_id == "a1"
    assert challenge.channel == "sms"
    assert challenge.destination == "+7 *** ***-**-67"
    assert (challenge.created_at, challenge.expires_at) == (NOW, NOW + timedelta(minutes=5))
    assert (challenge.attempts, challenge.sends, challenge.last_sent_at) == (0, 1, NOW)


def test_right_code_passes_once(f: Fixture) -> None:
    challenge, code = f.start()
    passed = f.challenges.verify(challenge.challenge_id, "a1", code, NOW + timedelta(minutes=1))
    assert passed == challenge
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a1", code, NOW),
        "mfa.challenge_unknown",
    )


def test_code_with_spaces_passes(f: Fixture) -> None:
    challenge, code = f.start()
    spaced = f" {code[:3]} {code[3:]} "
    assert f.challenges.verify(challenge.challenge_id, "a1", spaced, NOW) == challenge


def test_wrong_codes_count_down_and_the_fifth_kills_it(f: Fixture) -> None:
    challenge, code = f.start()
    cid = challenge.challenge_id
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongCode) as exc:
            f.challenges.verify(cid, "a1", _wrong(code), NOW)
        assert exc.value.code == "mfa.wrong_code"
        assert exc.value.attempts_left == left
        assert f"{left} attempt" in exc.value.message
    _refused(lambda: f.challenges.verify(cid, "a1", _wrong(code), NOW), "mfa.too_many_attempts")
    _refused(lambda: f.challenges.verify(cid, "a1", code, NOW), "mfa.challenge_unknown")


def test_max_attempts_is_configurable() -> None:
    f = Fixture(max_attempts=2)
    challenge, code = f.start()
    with pytest.raises(WrongCode) as exc:
        f.challenges.verify(challenge.challenge_id, "a1", _wrong(code), NOW)
    assert exc.value.attempts_left == 1
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a1", _wrong(code), NOW),
        "mfa.too_many_attempts",
    )


def test_the_code_is_stored_only_as_its_hmac(f: Fixture) -> None:
    challenge, code = f.start()
    raw = f.store.get(KIND, challenge.challenge_id, NOW)
    assert raw is not None
    assert code.encode() not in raw
    expected = hmac.digest(KEY, (challenge.challenge_id + code).encode(), hashlib.sha256)
    assert expected.hex().encode() in raw
    assert expected.hex() not in repr(_Entry.from_bytes(raw))


def test_no_error_message_quotes_the_code(f: Fixture) -> None:
    challenge, code = f.start()
    errors: list[BridgeError] = []
    for _ in range(5):
        try:
            f.challenges.verify(challenge.challenge_id, "a1", _wrong(code), NOW)
        except BridgeError as exc:
            errors.append(exc)
    assert len(errors) == 5
    for error in errors:
        assert code not in str(error)
        assert _wrong(code) not in str(error)


def test_expired_challenge_is_refused_then_forgotten(f: Fixture) -> None:
    challenge, code = f.start()
    late = challenge.expires_at
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a1", code, late),
        "mfa.challenge_expired",
    )
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a1", code, late),
        "mfa.challenge_unknown",
    )


def test_long_after_expiry_it_is_unknown(f: Fixture) -> None:
    challenge, code = f.start()
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a1", code, NOW + timedelta(hours=1)),
        "mfa.challenge_unknown",
    )


def test_another_account_cannot_use_or_spend_it(f: Fixture) -> None:
    challenge, code = f.start()
    _refused(
        lambda: f.challenges.verify(challenge.challenge_id, "a2", code, NOW),
        "mfa.challenge_unknown",
    )
    _refused(
        lambda: f.challenges.resend(challenge.challenge_id, "a2", NOW), "mfa.challenge_unknown"
    )
    assert f.challenges.verify(challenge.challenge_id, "a1", code, NOW).attempts == 0


def test_unknown_id(f: Fixture) -> None:
    _refused(lambda: f.challenges.verify("nope", "a1", "123456", NOW), "mfa.challenge_unknown")


def test_resend_cooldown_and_cap(f: Fixture) -> None:
    challenge, _ = f.start()
    cid = challenge.challenge_id
    error = _refused(
        lambda: f.challenges.resend(cid, "a1", NOW + timedelta(seconds=29)),
        "mfa.resend_too_soon",
    )
    assert "wait 1 s" in error.message
    second = f.challenges.resend(cid, "a1", NOW + timedelta(seconds=30))
    assert (second.sends, second.last_sent_at) == (2, NOW + timedelta(seconds=30))
    assert second.expires_at == NOW + timedelta(seconds=30, minutes=5)
    third = f.challenges.resend(cid, "a1", NOW + timedelta(seconds=60))
    assert third.sends == 3
    _refused(lambda: f.challenges.resend(cid, "a1", NOW + timedelta(minutes=2)), "mfa.resend_limit")
    assert len(f.outbox.outbox) == 3


def test_resend_replaces_the_code_and_keeps_attempts(f: Fixture) -> None:
    challenge, old = f.start()
    cid = challenge.challenge_id
    with pytest.raises(WrongCode):
        f.challenges.verify(cid, "a1", _wrong(old), NOW)
    later = NOW + timedelta(seconds=30)
    renewed = f.challenges.resend(cid, "a1", later)
    assert renewed.attempts == 1
    new = f.outbox.last_code_for(PHONE)
    assert new is not None
    if new != old:  # one time in a million the new code is the old one
        with pytest.raises(WrongCode) as exc:
            f.challenges.verify(cid, "a1", old, later)
        assert exc.value.attempts_left == 3
    passed = f.challenges.verify(cid, "a1", new, later)
    assert passed.sends == 2


def test_resent_code_lives_its_own_lifetime(f: Fixture) -> None:
    challenge, _ = f.start()
    resent_at = NOW + timedelta(minutes=4)
    f.challenges.resend(challenge.challenge_id, "a1", resent_at)
    code = f.outbox.last_code_for(PHONE)
    assert code is not None
    at = NOW + timedelta(minutes=8)  # past the first code's expiry
    assert f.challenges.verify(challenge.challenge_id, "a1", code, at).sends == 2


def test_a_verification_racing_another_gets_no_attempt(f: Fixture) -> None:
    # the store is shared by two processes: while one holds the challenge, the other's
    # verification finds nothing, so it cannot spend the same attempt again
    challenge, code = f.start()
    cid = challenge.challenge_id
    outcomes: list[str] = []

    class Racing(InMemoryEphemeralStore):
        raced = False

        def consume(self, kind: str, key: str, now: datetime) -> bytes | None:
            taken = super().consume(kind, key, now)
            if not self.raced:
                self.raced = True
                try:
                    f.challenges.verify(cid, "a1", _wrong(code), now)
                except MfaError as exc:
                    outcomes.append(exc.code)
            return taken

    racing = Racing()
    raw = f.store.get(KIND, cid, NOW)
    assert raw is not None
    racing.put(KIND, cid, raw, NOW + timedelta(minutes=10), NOW)
    f.challenges._store = racing
    with pytest.raises(WrongCode) as exc:
        f.challenges.verify(cid, "a1", _wrong(code), NOW)
    assert outcomes == ["mfa.challenge_unknown"]
    assert exc.value.attempts_left == 4
    assert f.challenges.verify(cid, "a1", code, NOW).attempts == 1


def test_email_channel_and_masking(f: Fixture) -> None:
    challenge = f.challenges.start("a1", "email", "maria.ivanova@example.org", NOW)
    assert challenge.destination == "m***@example.org"
    [message] = f.outbox.outbox
    assert message.channel == "email"
    assert f.outbox.last_code_for("maria.ivanova@example.org") is not None


@pytest.mark.parametrize(
    ("channel", "destination", "masked"),
    [
        ("sms", "+79123456767", "+7 *** ***-**-67"),
        ("sms", "8 (912) 345-67-89", "+7 *** ***-**-89"),
        ("sms", "+44 20 7946 0958", "*** ***-**-58"),
        ("sms", "12", "***"),
        ("email", "x@y.ru", "x***@y.ru"),
        ("email", "broken", "***"),
        ("totp", "", ""),
    ],
)
def test_mask_destination(channel: str, destination: str, masked: str) -> None:
    assert mask_destination(channel, destination) == masked


def test_bad_channel_and_missing_destination(f: Fixture) -> None:
    with pytest.raises(InvalidInput) as exc:
        f.challenges.start("a1", "pigeon", PHONE, NOW)
    assert exc.value.code == "mfa.bad_channel"
    with pytest.raises(InvalidInput) as exc:
        f.challenges.start("a1", "sms", "", NOW)
    assert exc.value.code == "mfa.no_destination"
    assert f.outbox.outbox == []


def test_a_failed_send_leaves_no_challenge(f: Fixture) -> None:
    class Broken:
        def send(self, message: Message) -> None:
            raise BridgeError("the SMS gateway is down", code="bridge.error")

    challenges = CodeChallenges(f.store, Broken(), KEY)
    with pytest.raises(BridgeError):
        challenges.start("a1", "sms", PHONE, NOW, owner="browser-1")
    assert f.store.owned_by(KIND, "browser-1", NOW) == []


def test_owner_is_kept_across_attempts(f: Fixture) -> None:
    challenge = f.challenges.start("a1", "sms", PHONE, NOW, owner="browser-1")
    with pytest.raises(WrongCode):
        f.challenges.verify(challenge.challenge_id, "a1", "000000x", NOW)
    owned = f.store.owned_by(KIND, "browser-1", NOW)
    assert [key for key, _ in owned] == [challenge.challenge_id]


def test_eight_digit_codes() -> None:
    f = Fixture(digits=8)
    challenge = f.challenges.start("a1", "sms", PHONE, NOW)
    code = f.outbox.last_code_for(PHONE)
    assert code is not None
    assert len(code) == 8
    assert f.challenges.verify(challenge.challenge_id, "a1", code, NOW) == challenge


def test_bad_settings_are_refused() -> None:
    store, outbox = InMemoryEphemeralStore(), OutboxSender()
    with pytest.raises(ConfigError):
        CodeChallenges(store, outbox, b"short")
    with pytest.raises(ConfigError):
        CodeChallenges(store, outbox, KEY, max_attempts=0)
    with pytest.raises(InvalidInput):
        CodeChallenges(store, outbox, KEY, digits=4)


# -- TOTP challenges ---------------------------------------------------------------------------


def _totp_now(at: datetime) -> str:
    return totp(SECRET, int(at.timestamp()))


def test_totp_challenge_sends_nothing_and_checks_the_app_code(f: Fixture) -> None:
    f.credentials.set_totp("a1", SECRET)
    challenge = f.challenges.start("a1", "totp", None, NOW)
    assert f.outbox.outbox == []
    assert (challenge.channel, challenge.destination, challenge.sends) == ("totp", "", 0)
    assert f.challenges.verify(challenge.challenge_id, "a1", _totp_now(NOW), NOW) == challenge
    _refused(
        lambda: f.challenges.resend(challenge.challenge_id, "a1", NOW), "mfa.challenge_unknown"
    )


def test_totp_challenge_needs_enrolment_and_a_verifier(f: Fixture) -> None:
    _refused(lambda: f.challenges.start("a1", "totp", None, NOW), "mfa.totp_not_enrolled")
    plain = CodeChallenges(f.store, f.outbox, KEY)
    with pytest.raises(ConfigError):
        plain.start("a1", "totp", None, NOW)


def test_totp_challenge_counts_wrong_and_replayed_codes(f: Fixture) -> None:
    f.credentials.set_totp("a1", SECRET)
    first = f.challenges.start("a1", "totp", None, NOW)
    code = _totp_now(NOW)
    f.challenges.verify(first.challenge_id, "a1", code, NOW)
    second = f.challenges.start("a1", "totp", None, NOW)
    with pytest.raises(TotpStepReused) as reused:
        f.challenges.verify(second.challenge_id, "a1", code, NOW)
    assert reused.value.attempts_left == 4
    with pytest.raises(WrongCode) as wrong:
        f.challenges.verify(second.challenge_id, "a1", _wrong(code), NOW)
    assert wrong.value.attempts_left == 3
    _refused(lambda: f.challenges.resend(second.challenge_id, "a1", NOW), "mfa.bad_channel")
    later = NOW + timedelta(seconds=30)
    assert f.challenges.verify(second.challenge_id, "a1", _totp_now(later), later).attempts == 2


def test_get_shows_the_live_challenge_without_spending_it(f: Fixture) -> None:
    challenge, code = f.start()
    cid = challenge.challenge_id
    with pytest.raises(WrongCode):
        f.challenges.verify(cid, "a1", _wrong(code), NOW)
    shown = f.challenges.get(cid, "a1", NOW)
    assert shown is not None
    assert shown.attempts == 1
    assert f.challenges.get(cid, "a2", NOW) is None
    assert f.challenges.get(cid, "a1", challenge.expires_at) is None
    assert f.challenges.get("nope", "a1", NOW) is None
    assert f.challenges.verify(cid, "a1", code, NOW).attempts == 1
    assert f.challenges.get(cid, "a1", NOW) is None
