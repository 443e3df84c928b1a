"""Recovery codes in the settings of a logged-in person (docs/mfa.md, "Recovery codes").

Using one is part of the login's second factor (the machine's ``AskRecoveryCode``); here a
person with an authenticator app makes a new set and sees how many are left.
"""

from __future__ import annotations

from datetime import datetime

from sso_bridge.broker.config import Client
from sso_bridge.broker.core import BrokerCore
from sso_bridge.errors import BridgeError
from sso_bridge.mfa.errors import MfaError
from sso_bridge.mfa.recovery import RecoveryCodes
from sso_bridge.model import AuditAction
from sso_bridge.sessions import Session

__all__ = ["RecoverySettings"]


class RecoverySettings(BrokerCore):
    """The recovery codes of the session's account."""

    def recovery_codes_left(self, session: Session) -> int:
        """How many unused recovery codes the session's account has."""
        return RecoveryCodes(self.credentials).left(session.account_id)

    def generate_recovery_codes(
        self, token: str, client: Client, *, code: str | None = None
    ) -> tuple[str, ...]:
        """A new set of recovery codes for the session's account, replacing any earlier
        set; shown once, never kept.

        The account needs an authenticator app (``mfa.totp_not_enrolled``). A session
        without a second factor needs ``code``, a code from that app: none is
        ``mfa.code_needed``; a wrong one is refused, audited and ends the session, so
        that each guess costs a whole login.
        """
        now = self._clock.now()
        with self._audited(client, AuditAction.SECOND_FACTOR_FAILED, now):
            session = self._authenticate(token, client, now)
            account_id = session.account_id
            self.totp.require_enrolled(account_id)
            if not session.second_factor:
                self._fresh_code(token, account_id, (code or "").strip(), now)
            codes = RecoveryCodes(self.credentials).generate(account_id)
            self._record(
                AuditAction.RECOVERY_CODES_GENERATED,
                client,
                now,
                account_id=account_id,
                detail=f"{len(codes)} new recovery codes; any earlier ones are void",
            )
            return codes

    def _fresh_code(self, token: str, account_id: str, code: str, now: datetime) -> None:
        if not code:
            raise MfaError(
                "enter a code from the authenticator app to make recovery codes",
                code="mfa.code_needed",
            )
        try:
            self.totp.verify(account_id, code, now)
        except BridgeError:
            self.sessions.revoke_token(token, now=now)
            raise
