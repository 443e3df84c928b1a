"""The login's second step: a six-digit SMS code (kept only as a hash, fresh for five
minutes) or a TOTP code from the person's authenticator, each TOTP step good once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime

from mock_idp.grants import SMS_CODE_LIFETIME, Transaction
from mock_idp.users import Person, SecondFactor
from sso_bridge.mfa.otp import decode_secret, totp_match

__all__ = ["UsedTotpSteps", "code_matches", "new_sms_code"]


def new_sms_code() -> tuple[str, bytes]:
    """A new SMS code and the hash the login transaction keeps of it."""
    code = f"{secrets.randbelow(10**6):06d}"
    return code, hashlib.sha256(code.encode()).digest()


class UsedTotpSteps:
    """The newest TOTP step each person logged in with; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[int, int] = {}

    def accept(self, person: Person, secret: str, code: str, now: datetime) -> bool:
        """Whether ``code`` is the person's TOTP code now and its step was not used yet
        (a step once used stays used: no replay of an observed code)."""
        step = totp_match(decode_secret(secret), code.strip(), int(now.timestamp()))
        with self._lock:
            ok = step is not None and step > self._steps.get(person.oid, -1)
            if ok and step is not None:
                self._steps[person.oid] = step
        return ok


def code_matches(
    txn: Transaction, person: Person, code: str, now: datetime, totp_steps: UsedTotpSteps
) -> bool:
    """Whether ``code`` is the right second factor of ``person`` in this login."""
    if person.second_factor is SecondFactor.SMS:
        fresh = txn.sms_sent_at is not None and now - txn.sms_sent_at <= SMS_CODE_LIFETIME
        given = hashlib.sha256(code.strip().encode()).digest()
        return (
            fresh
            and txn.sms_code_hash is not None
            and hmac.compare_digest(given, txn.sms_code_hash)
        )
    if person.totp_secret:
        return totp_steps.accept(person, person.totp_secret, code, now)
    return False
