"""Step-up: a fresh or stronger authentication at the IdP before one action
(docs/reauthentication.md).

:meth:`StepUpFlow.begin_step_up` sends the logged-in person back to the IdP that logged
them in; the machine (:mod:`sso_bridge.broker.machine.step_up`) checks the answer: the
same subject as the session, an ``auth_time`` recent enough, the context class asked
for. A passed step-up is kept for the session in the shared short-lived store (every
instance sees it) and :meth:`StepUpFlow.require_fresh` is the check an action makes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sso_bridge.broker.config import Client, Provider
from sso_bridge.broker.errors import BrokerError, StepUpRequired
from sso_bridge.broker.login import LoginFlow
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine.states import Start
from sso_bridge.broker.results import Redirect
from sso_bridge.broker.shell import Call
from sso_bridge.broker.step_up_records import StepUp, StepUpRecords
from sso_bridge.broker.steps import browser_hash
from sso_bridge.errors import InvalidInput
from sso_bridge.idp import AuthnRequirements
from sso_bridge.model import AuditAction
from sso_bridge.sessions import Session

__all__ = ["StepUp", "StepUpFlow", "StepUpRecords"]

_MAX_RETURN_TO = 2048


def check_return_to(value: str | None) -> str | None:
    """``value`` if it is a path of this site (``/...``, not ``//host``); else refused
    (``input.invalid``), so that a step-up never sends the person elsewhere."""
    if value is None:
        return None
    if (
        len(value) > _MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or not value.isprintable()
    ):
        raise InvalidInput("return_to must be a path of this site", code="input.invalid")
    return value


class StepUpFlow(LoginFlow):
    """The step-up calls of the broker."""

    def begin_step_up(
        self,
        token: str,
        client: Client,
        *,
        provider: str | None = None,
        max_age: int = 0,
        acr_values: Collection[str] = (),
        return_to: str | None = None,
    ) -> Redirect:
        """Send the person of the session back to the IdP that logged them in (or
        ``provider``, which must have the same issuer) for an authentication at most
        ``max_age`` seconds old when they come back (0: a fresh one; ``prompt=login`` is
        then sent) with one of ``acr_values`` when given. The answer is taken by
        :meth:`~sso_bridge.broker.login.LoginFlow.finish`, which gives
        :class:`~sso_bridge.broker.results.StepUpDone` with ``return_to`` (a path of this
        site). A session of a local login is refused (``broker.step_up_unavailable``)."""
        now = self._clock.now()
        with self._audited(client, AuditAction.SECURITY, now):
            session = self._authenticate(token, client, now)
            if type(max_age) is not int or max_age < 0:
                raise InvalidInput(
                    "max_age must be a whole number of seconds", code="input.invalid"
                )
            acr = tuple(acr_values)
            if isinstance(acr_values, str) or not all(isinstance(a, str) and a for a in acr):
                raise InvalidInput("acr_values must be a list of names", code="input.invalid")
            check_return_to(return_to)
            if session.issuer is None or session.subject is None:
                raise BrokerError(
                    "this session did not come from a login at an IdP",
                    code="broker.step_up_unavailable",
                )
            chosen = self._step_up_provider(session.issuer, provider)
            authn = AuthnRequirements(force=max_age == 0, max_age=max_age, acr_values=acr)
            request, url, fields = self._idp_request(chosen, now, authn)
            event = ev.StepUpBegun(
                browser_hash(client.browser_id),
                chosen.name,
                request,
                url,
                session.session_id,
                session.issuer,
                session.subject,
                max_age,
                acr,
                return_to,
                fields,
            )
            return self._redirect(self._run(Start(), event, Call(client, now)))

    def _step_up_provider(self, issuer: str, name: str | None) -> Provider:
        if name is not None:
            chosen = self._provider(name)
            if chosen.issuer != issuer:
                raise BrokerError(
                    "the session came from another provider", code="broker.wrong_provider"
                )
            return chosen
        for candidate in self.providers:
            if candidate.enabled and candidate.issuer == issuer:
                return candidate
        raise BrokerError(
            "the provider that logged this session in is not available",
            code="broker.step_up_unavailable",
        )

    def step_up_of(self, session: Session) -> StepUp | None:
        """The session's last step-up (None: none)."""
        return self._step_ups.get(session.session_id, self._clock.now())

    def require_fresh(
        self,
        session: Session,
        *,
        max_age: timedelta | int,
        acr: Collection[str] = (),
    ) -> None:
        """Refuse (``broker.step_up_required``) unless the session's person authenticated
        again at the IdP within ``max_age`` (seconds, or a timedelta) by a step-up, with
        one of the context classes ``acr`` when given. The action then sends the person
        through :meth:`begin_step_up` and comes back."""
        age = max_age if isinstance(max_age, timedelta) else timedelta(seconds=max_age)
        now = self._clock.now()
        step_up = self._step_ups.get(session.session_id, now)
        wanted = frozenset(acr)
        if (
            step_up is None
            or now - step_up.auth_time > age
            or (wanted and step_up.acr not in wanted)
        ):
            raise StepUpRequired("this action needs you to log in at the IdP again")
