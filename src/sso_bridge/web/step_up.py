"""Step-up in the web layer (docs/reauthentication.md): the route that sends a logged-in
person back to the IdP before an action that needs a fresh or stronger authentication,
and the check a host's view makes before that action."""

from __future__ import annotations

from collections.abc import Collection

from sso_bridge.broker.errors import StepUpRequired
from sso_bridge.errors import InvalidInput
from sso_bridge.sessions import Session
from sso_bridge.web.base import RoutesBase, Visit
from sso_bridge.web.http import WebResponse

__all__ = ["StepUpPages"]

_MAX_AGE_LIMIT = 86400


def _max_age(text: str) -> int:
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_AGE_LIMIT:
        raise InvalidInput(
            f"max_age must be a whole number of seconds up to {_MAX_AGE_LIMIT}",
            code="input.invalid",
        )
    return int(text)


class StepUpPages(RoutesBase):
    """``POST /step-up`` and :meth:`fresh_or_step_up`."""

    def step_up(self, visit: Visit) -> WebResponse:
        """POST /step-up (CSRF-checked): ``max_age`` (seconds, 0 when empty: a fresh
        authentication), ``acr`` (space-separated context classes, any one of them),
        ``return_to`` (a path of this site) and optionally ``provider``; off to the IdP,
        back at ``return_to`` once the answer passed."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        request = visit.request
        redirect = self.broker.begin_step_up(
            visit.token or "",
            visit.client,
            provider=request.field("provider") or None,
            max_age=_max_age(request.field("max_age")),
            acr_values=tuple(request.field("acr").split()),
            return_to=request.field("return_to") or None,
        )
        return self.result(visit, redirect)

    def fresh_or_step_up(
        self,
        session: Session,
        *,
        max_age: int,
        return_to: str,
        acr: Collection[str] = (),
    ) -> WebResponse | None:
        """None when the session's person authenticated again at the IdP within
        ``max_age`` seconds (with one of ``acr`` when given); else the page that sends
        them through ``POST /step-up`` and back to ``return_to``, for the view to return
        instead of doing the action."""
        try:
            self.broker.require_fresh(session, max_age=max_age, acr=acr)
        except StepUpRequired:
            pass
        else:
            return None
        fields = (
            (self.config.csrf_field, self.csrf_token(session)),
            ("max_age", str(max_age)),
            ("acr", " ".join(acr)),
            ("return_to", return_to),
        )
        return self.page("post_to_idp.html", action=self.config.url("/step-up"), fields=fields)
