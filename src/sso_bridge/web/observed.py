"""What the auth routes tell the metrics, and the probe pages (``/healthz``, ``/readyz``,
``/metrics``). The routes know the step, the provider and the outcome; the broker's
stores are measured by their engine (:func:`~sso_bridge.observe.instrument_engine`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Final

import sqlalchemy as sa

from sso_bridge.broker import ChooseAccount, LocalLoginForm, LoggedIn, SecondFactorForm
from sso_bridge.errors import BridgeError, declared
from sso_bridge.esia.errors_table import ESIA_NUMBERS, esia_number
from sso_bridge.observe import Metrics, Observe, Readiness, exposition, instrument_engine
from sso_bridge.observe.metrics import bounded_code
from sso_bridge.web.http import RouteSpec, WebResponse

__all__ = ["LOGIN_ROUTES", "PROBES", "RATE_LIMIT_CODES", "STEP_OF", "Probes", "RouteMetrics"]
__all__ += ["instrument_stores"]

PROBES: Final[tuple[RouteSpec, ...]] = (
    RouteSpec("GET", "/healthz", "healthz"),
    RouteSpec("GET", "/readyz", "readyz"),
    RouteSpec("GET", "/metrics", "metrics"),
)
"""The probe routes, under the prefix beside the auth routes; they touch no session."""

STEP_OF: Final[Mapping[str, str]] = {
    "login_with": "start",
    "oidc_callback": "callback",
    "saml_acs": "callback",
    "choose": "choose",
    "local": "local_login",
    "second_factor": "code",
    "resend": "code",
    "logout": "logout",
    "logout_everywhere": "logout",
    "logout_return": "logout",
    "saml_slo": "logout",
    "saml_slo_post": "logout",
    "backchannel_logout": "logout",
}
"""The measured step (label ``step``) of each route; other routes are not timed."""

LOGIN_ROUTES: Final = frozenset({"oidc_callback", "saml_acs", "choose", "local", "second_factor"})
"""The routes whose answer is a login's outcome (``sso_bridge_logins_total``)."""

RATE_LIMIT_CODES: Final = frozenset(
    {
        "auth.ip_login_limit",
        "auth.locked",
        "broker.ip_start_limit",
        "mfa.account_code_limit",
        "mfa.destination_code_limit",
        "mfa.ip_code_limit",
        "mfa.resend_limit",
        "mfa.second_factor_locked",
        "mfa.too_many_attempts",
    }
)
"""Codes of the limits of docs/security.md; any refusal with ``Retry-After`` counts too."""

_IDP_CODES: Final = frozenset(
    {
        "oidc.access_denied",
        "oidc.authorization_error",
        "oidc.token_error",
        "saml.status_not_success",
    }
)

_RESULT: ContextVar[object | None] = ContextVar("sso_bridge_step_result", default=None)

_JSON: Final = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


def remember_result(result: object) -> None:
    """Keep the broker's answer of the route being served, for :meth:`RouteMetrics.step`."""
    _RESULT.set(result)


def _family(code: str) -> str:
    return code.partition(".")[0] if code in declared() else "other"


class RouteMetrics:
    """Counts the auth routes' work into ``metrics``; ``providers`` maps each provider's
    issuer to its name (names are the only provider label)."""

    def __init__(self, metrics: Metrics, providers: Mapping[str, str]) -> None:
        self.metrics = metrics
        self.names = frozenset(providers.values())
        self.by_issuer = dict(providers)
        # counted on every protected page: the labelled child is looked up once
        self._validated = metrics.session_validations.labels("ok")

    def begin(self) -> None:
        _RESULT.set(None)

    def step(
        self, route: str, params: Mapping[str, str], seconds: float, error: BridgeError | None
    ) -> None:
        """Count route ``route`` served in ``seconds`` (refused with ``error``, else the
        answer kept by :func:`remember_result`)."""
        step = STEP_OF.get(route)
        if step is None:
            return
        m = self.metrics
        m.step_seconds.labels(step).observe(seconds)
        result = _RESULT.get() if error is None else None
        form_error = getattr(result, "error", None)
        refused = error or (form_error if isinstance(form_error, BridgeError) else None)
        provider = self._provider(params.get("provider"), step, result)
        if refused is not None:
            self._refused(step, provider, refused)
        if route in LOGIN_ROUTES:
            outcome = f"refused:{_family(refused.code)}" if refused else _outcome(result)
            m.logins.labels(provider, outcome).inc()
        self._second_factor(route, result, refused)

    def _provider(self, named: str | None, step: str, result: object) -> str:
        if named is not None:
            return named if named in self.names else "other"
        if isinstance(result, LoggedIn):
            issuer = result.session.issuer
            return "local" if issuer is None else self.by_issuer.get(issuer, "other")
        return "local" if step == "local_login" else "-"

    def _refused(self, step: str, provider: str, error: BridgeError) -> None:
        m, code = self.metrics, bounded_code(error.code)
        m.refusals.labels(step, code).inc()
        if code in RATE_LIMIT_CODES or error.retry_after is not None:
            m.rate_limited.labels(code).inc()
        if step == "callback" and (code.startswith("esia.") or code in _IDP_CODES):
            number = esia_number(error.message)
            number = number if number in ESIA_NUMBERS else "-"
            m.idp_errors.labels(provider, code, number).inc()
        if code.startswith("store."):
            m.store_error("broker", code)

    def _second_factor(self, route: str, result: object, refused: BridgeError | None) -> None:
        counter = self.metrics.second_factors
        channel = result.challenge.channel if isinstance(result, SecondFactorForm) else "-"
        if route == "second_factor":
            if isinstance(result, LoggedIn) and refused is None:
                counter.labels(channel, "passed").inc()
            elif refused is not None:
                counter.labels(channel, "failed").inc()
        elif isinstance(result, SecondFactorForm) and refused is None:
            counter.labels(channel, "resent" if route == "resend" else "opened").inc()

    def validation(self, error: BridgeError | None) -> None:
        """Count a session check for a protected page (refused with ``error``)."""
        if error is None:
            self._validated.inc()
            return
        m = self.metrics
        m.session_validations.labels("refused").inc()
        m.session_refusals.labels(bounded_code(error.code)).inc()


def _outcome(result: object) -> str:
    if isinstance(result, LoggedIn):
        return "logged_in"
    if isinstance(result, ChooseAccount):
        return "chooser"
    if isinstance(result, SecondFactorForm):
        return "second_factor"
    if isinstance(result, LocalLoginForm):
        return "local_form"
    return "other"


def instrument_stores(broker: object, metrics: Metrics) -> None:
    """Measure the SQLAlchemy engine of each of ``broker``'s SQL stores: the directory's
    pool is ``database``, another engine is named after its port (``audit``...)."""
    for name in ("directory", "links", "audit", "credentials"):
        engine = getattr(getattr(broker, name, None), "engine", None)
        if isinstance(engine, sa.Engine):
            instrument_engine(engine, metrics, pool="database" if name == "directory" else name)


class Probes:
    """``/healthz``, ``/readyz`` and ``/metrics`` of one set of auth routes."""

    def __init__(self, observe: Observe, broker: object) -> None:
        self.observe = observe
        self._broker = broker
        self._readiness: Readiness | None = None

    @property
    def readiness(self) -> Readiness:
        if self._readiness is None:  # built on first use: a broker's stores may come late
            self._readiness = self.observe.readiness(self._broker)
        return self._readiness

    def serve(self, name: str) -> WebResponse:
        """The answer of probe ``name`` (see :data:`PROBES`)."""
        if name == "healthz":
            return _json(200, {"status": "ok"})
        if name == "readyz":
            report = self.readiness.report()
            return _json(200 if report.ready else 503, report.body())
        if name == "metrics" and self.observe.metrics_endpoint:
            body, content_type = exposition(self.observe.metrics.registry)
            headers = (("Content-Type", content_type), ("Cache-Control", "no-store"))
            return WebResponse(200, body=body.decode("utf-8"), headers=headers)
        return WebResponse(404, body="not found\n")


def _json(status: int, body: Any) -> WebResponse:
    return WebResponse(status, body=json.dumps(body, sort_keys=True) + "\n", headers=_JSON)
