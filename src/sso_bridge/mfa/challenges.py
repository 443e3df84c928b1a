"""One-time code challenges: a code sent by SMS or e-mail, or asked of an authenticator.

A challenge lives in an :class:`~sso_bridge.ephemeral.EphemeralStore` under the kind
``"challenge"``. The code itself is never stored, logged or put in an error: the entry
keeps ``HMAC-SHA256(key, challenge_id + code)``. Every step takes the entry with
``consume()`` and puts it back changed, so that several processes sharing the store can
never spend the same attempt twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import attrs

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError
from sso_bridge.mfa.errors import MfaError, MfaInputError, TooManyCodes, TotpStepReused, WrongCode
from sso_bridge.mfa.limits import Limiter, LimitPolicy, SecondFactorBudget
from sso_bridge.mfa.otp import check_digits
from sso_bridge.mfa.sender import Channel, Message, Sender, code_message
from sso_bridge.mfa.totp import TotpVerifier
from sso_bridge.model import Challenge

__all__ = ["CHANNELS", "KIND", "Challenge", "CodeChallenges", "mask_destination"]

KIND = "challenge"
"""The kind of challenge entries in the ephemeral store."""

CHANNELS = ("sms", "email", "totp")

_MAX_CODE_CHARS = 64


def mask_destination(channel: str, destination: str) -> str:
    """``+7 *** ***-**-67`` for a phone, ``i***@example.org`` for an address."""
    if channel == "email":
        local, at, domain = destination.strip().rpartition("@")
        return f"{local[0]}***@{domain}" if at and local else "***"
    if channel == "sms":
        digits = "".join(c for c in destination if c in "0123456789")
        if len(digits) == 11 and digits[0] in "78":
            return f"+7 *** ***-**-{digits[-2:]}"
        return f"*** ***-**-{digits[-2:]}" if len(digits) >= 6 else "***"
    return ""


def _destination_key(channel: str, destination: str) -> str:
    """One key per phone number (its digits) or address (case-folded)."""
    if channel == "sms":
        digits = "".join(c for c in destination if c in "0123456789")
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]  # 8 900 ... and +7 900 ... ring the same phone
        return "sms:" + digits
    return f"{channel}:" + destination.strip().casefold()


@attrs.frozen
class _Entry:
    """What the store holds: the clear destination (for a resend) and the code's HMAC."""

    challenge_id: str
    account_id: str
    channel: str
    destination: str = attrs.field(repr=False)
    owner: str | None
    created_at: datetime
    expires_at: datetime
    attempts: int
    sends: int
    last_sent_at: datetime | None
    code_hash: str | None = attrs.field(repr=False)

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = attrs.asdict(self)
        for name in ("created_at", "expires_at", "last_sent_at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> _Entry:
        data = json.loads(raw)
        for name in ("created_at", "expires_at", "last_sent_at"):
            value = data[name]
            data[name] = None if value is None else datetime.fromisoformat(value)
        return cls(**data)

    def public(self) -> Challenge:
        return Challenge(
            challenge_id=self.challenge_id,
            account_id=self.account_id,
            channel=self.channel,
            destination=mask_destination(self.channel, self.destination),
            created_at=self.created_at,
            expires_at=self.expires_at,
            attempts=self.attempts,
            sends=self.sends,
            last_sent_at=self.last_sent_at,
        )


def _parse(raw: bytes) -> _Entry | None:
    try:
        return _Entry.from_bytes(raw)
    except (ValueError, TypeError, KeyError):
        return None  # not one of ours: treat it as absent


class CodeChallenges:
    """Starts, checks and resends one-time code challenges.

    ``key`` (16 bytes or more) keys the HMAC of the codes. ``max_attempts`` wrong codes
    kill a challenge; resending does not give attempts back. ``max_sends`` counts the
    first message, so the default allows two resends, each ``resend_cooldown`` apart;
    each resent code replaces the previous one and is valid for ``lifetime``.

    With ``limits`` the account-wide limits hold too: wrong codes across all of an
    account's challenges spend its budget (then its second factor is locked), and codes
    sent per account and per destination are capped.
    """

    def __init__(
        self,
        store: EphemeralStore,
        sender: Sender,
        key: bytes,
        *,
        lifetime: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        resend_cooldown: timedelta = timedelta(seconds=30),
        max_sends: int = 3,
        digits: int = 6,
        totp: TotpVerifier | None = None,
        limits: LimitPolicy | None = None,
    ) -> None:
        if len(key) < 16:
            raise ConfigError("the challenge key needs 16 bytes or more", code="config.invalid")
        if lifetime <= timedelta(0) or max_attempts < 1 or max_sends < 1:
            raise ConfigError(
                "a challenge needs a positive lifetime, max_attempts and max_sends",
                code="config.invalid",
            )
        self._store = store
        self._sender = sender
        self._key = bytes(key)
        self.lifetime = lifetime
        self.max_attempts = max_attempts
        self.resend_cooldown = resend_cooldown
        self.max_sends = max_sends
        self.digits = check_digits(digits)
        self._totp = totp
        self.limits = limits
        self.budget = None if limits is None else SecondFactorBudget(store, limits)
        self._limiter = Limiter(store)

    # -- the three steps --------------------------------------------------------------------

    def start(
        self,
        account_id: str,
        channel: str,
        destination: str | None,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> Challenge:
        """A new challenge; for ``sms`` and ``email`` its code is sent to ``destination``.

        For ``totp`` nothing is sent and ``destination`` is ignored. ``owner`` (a browser
        session, say) lets the store list and drop the challenges together.
        """
        if channel not in CHANNELS:
            raise MfaInputError(
                f"unknown second-factor channel {channel!r}; use sms, email or totp",
                code="mfa.bad_channel",
            )
        if channel == "totp":
            self._verifier().require_enrolled(account_id)
            destination = ""
        elif not destination:
            raise MfaInputError(
                f"a {channel} challenge needs somewhere to send the code",
                code="mfa.no_destination",
            )
        if self.budget is not None:
            self.budget.check(account_id, now)
        challenge_id = secrets.token_urlsafe(18)
        entry = _Entry(
            challenge_id=challenge_id,
            account_id=account_id,
            channel=channel,
            destination=destination,
            owner=owner,
            created_at=now,
            expires_at=now + self.lifetime,
            attempts=0,
            sends=0,
            last_sent_at=None,
            code_hash=None,
        )
        if channel != "totp":
            entry = self._send_new_code(entry, now)
        self._put(entry, now)
        return entry.public()

    def verify(self, challenge_id: str, account_id: str, code: str, now: datetime) -> Challenge:
        """The challenge, consumed, if ``code`` is right; otherwise one attempt is spent."""
        entry = self._take(challenge_id, account_id, now)
        if self.budget is not None:
            self.budget.check(account_id, now)  # locked: the challenge is spent with it
        try:
            failure = self._check(entry, code, now)
        except MfaError:
            raise  # the authenticator was removed meanwhile: this challenge cannot pass
        except BaseException:
            self._put(entry, now)  # a backend fault is not the person's attempt
            raise
        if failure is None:
            return entry.public()
        attempts = entry.attempts + 1
        locked = None if self.budget is None else self.budget.failed(account_id, now)
        if locked is not None:
            raise locked
        if attempts >= self.max_attempts:
            raise MfaError(
                f"{attempts} wrong codes: the challenge is void; request a new code",
                code="mfa.too_many_attempts",
            )
        self._put(attrs.evolve(entry, attempts=attempts), now)
        raise failure(self.max_attempts - attempts)

    def resend(self, challenge_id: str, account_id: str, now: datetime) -> Challenge:
        """Send a new code, which replaces the old one; attempts already spent stay spent."""
        entry = self._take(challenge_id, account_id, now)
        try:
            self._check_resend(entry, now)
            renewed = self._send_new_code(entry, now)
        except BaseException:
            self._put(entry, now)
            raise
        self._put(renewed, now)
        return renewed.public()

    def get(self, challenge_id: str, account_id: str, now: datetime) -> Challenge | None:
        """The account's live challenge, to show it again; None when there is none.

        Reading spends nothing. While another request is checking a code, the entry is
        taken and this returns None.
        """
        raw = self._store.get(KIND, challenge_id, now)
        entry = None if raw is None else _parse(raw)
        if entry is None or entry.account_id != account_id or now >= entry.expires_at:
            return None
        return entry.public()

    # -- helpers ------------------------------------------------------------------------------

    def _verifier(self) -> TotpVerifier:
        if self._totp is None:
            raise ConfigError(
                "TOTP challenges need CodeChallenges(..., totp=TotpVerifier(...))",
                code="config.invalid",
            )
        return self._totp

    def _mac(self, challenge_id: str, code: str) -> bytes:
        return hmac.digest(self._key, (challenge_id + code).encode(), hashlib.sha256)

    def _send_new_code(self, entry: _Entry, now: datetime) -> _Entry:
        self._count_sent(entry, now)
        code = str(secrets.randbelow(10**self.digits)).zfill(self.digits)
        renewed = attrs.evolve(
            entry,
            code_hash=self._mac(entry.challenge_id, code).hex(),
            sends=entry.sends + 1,
            last_sent_at=now,
            expires_at=now + self.lifetime,
        )
        minutes = max(1, int(self.lifetime.total_seconds()) // 60)
        channel: Channel = "email" if entry.channel == "email" else "sms"
        text = code_message(code, minutes)
        self._sender.send(Message(channel, entry.destination, text, entry.account_id))
        return renewed

    def _count_sent(self, entry: _Entry, now: datetime) -> None:
        """Count the code about to be sent against the caps; refuse past one."""
        limits = self.limits
        if limits is None:
            return
        wait = self._limiter.hit("sent-account", entry.account_id, limits.codes_per_account, now)
        if wait is not None:
            raise TooManyCodes("for this account", wait, code="mfa.account_code_limit")
        where = _destination_key(entry.channel, entry.destination)
        wait = self._limiter.hit("sent-destination", where, limits.codes_per_destination, now)
        if wait is not None:
            raise TooManyCodes("to this destination", wait, code="mfa.destination_code_limit")

    def _put(self, entry: _Entry, now: datetime) -> None:
        # kept past expires_at for one more lifetime, so that a late code is told
        # "expired" rather than "unknown"
        keep_until = entry.expires_at + self.lifetime
        self._store.put(
            KIND, entry.challenge_id, entry.to_bytes(), keep_until, now, owner=entry.owner
        )

    def _take(self, challenge_id: str, account_id: str, now: datetime) -> _Entry:
        raw = self._store.consume(KIND, challenge_id, now)
        entry = None if raw is None else _parse(raw)
        if entry is None or entry.account_id != account_id:
            if entry is not None:
                self._put(entry, now)  # someone else's challenge: leave it untouched
            raise MfaError(
                "no such challenge: it is unknown, used, or not this account's",
                code="mfa.challenge_unknown",
            )
        if now >= entry.expires_at:
            raise MfaError("the code has expired; request a new one", code="mfa.challenge_expired")
        return entry

    def _check(
        self, entry: _Entry, code: str, now: datetime
    ) -> type[WrongCode] | type[TotpStepReused] | None:
        """None when ``code`` passes, else the error class to raise."""
        if entry.channel == "totp":
            try:
                self._verifier().verify(entry.account_id, code, now)
            except WrongCode:
                return WrongCode
            except TotpStepReused:
                return TotpStepReused
            return None
        given = "".join(code.split())[:_MAX_CODE_CHARS]
        expected = bytes.fromhex(entry.code_hash or "")
        return (
            None
            if hmac.compare_digest(self._mac(entry.challenge_id, given), expected)
            else WrongCode
        )

    def _check_resend(self, entry: _Entry, now: datetime) -> None:
        if entry.channel == "totp":
            raise MfaInputError("an authenticator code cannot be resent", code="mfa.bad_channel")
        if entry.sends >= self.max_sends:
            raise MfaError(
                f"the code was sent {entry.sends} times already; start again",
                code="mfa.resend_limit",
            )
        if entry.last_sent_at is not None and now < entry.last_sent_at + self.resend_cooldown:
            wait = entry.last_sent_at + self.resend_cooldown - now
            raise MfaError(
                f"wait {max(1, round(wait.total_seconds()))} s before asking for a new code",
                code="mfa.resend_too_soon",
            )
