"""What the adapters observe and expose: :class:`Observe`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from prometheus_client import CollectorRegistry

from sso_bridge.errors import ConfigError
from sso_bridge.observe.health import Readiness, Report, store_checks
from sso_bridge.observe.metrics import Metrics, metrics_for

__all__ = ["Observe"]


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{attribute.name} must be a number above 0", code="config.invalid")


def _not_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{attribute.name} must be 0 or more", code="config.invalid")


@attrs.frozen
class Observe:
    """Health, metrics and request logs of the auth routes.

    ``/healthz`` and ``/readyz`` are always served under the prefix; ``/metrics`` only
    with ``metrics_endpoint`` (serve it on an internal listener, or let the proxy allow
    only the scraper). Metrics count into ``registry`` (prometheus-client's default one
    when None; a host with its own exposition passes the registry it serves).
    ``readiness_timeout`` bounds each store's ping, ``readiness_cache`` keeps a result
    that long; ``checks`` replaces the stores' pings (name -> a function that raises when
    the store does not answer). ``request_log`` writes one line per request
    (``sso_bridge.request``). ``instrument_stores`` measures the SQLAlchemy engines of
    the broker's stores (:func:`~sso_bridge.observe.instrument_engine`).
    """

    registry: CollectorRegistry | None = attrs.field(default=None, eq=False)
    metrics_endpoint: bool = False
    readiness_timeout: float = attrs.field(default=1.0, validator=_positive)
    readiness_cache: float = attrs.field(default=1.0, validator=_not_negative)
    checks: Mapping[str, Callable[[], None]] | None = attrs.field(default=None, eq=False)
    request_log: bool = True
    instrument_stores: bool = True

    @classmethod
    def of(cls, value: Observe | Mapping[str, Any] | None) -> Observe:
        """``value`` as an :class:`Observe` (its fields, or the defaults for None)."""
        if value is None:
            return cls()
        if isinstance(value, Observe):
            return value
        try:
            return cls(**dict(value))
        except TypeError as exc:
            raise ConfigError(f"unknown observe option: {exc}", code="config.invalid") from None

    @property
    def metrics(self) -> Metrics:
        """The metrics of :attr:`registry`."""
        return metrics_for(self.registry)

    def readiness(self, broker: object) -> Readiness:
        """The readiness checks of ``broker``'s stores (or of :attr:`checks`)."""
        checks = store_checks(broker) if self.checks is None else self.checks
        metrics = self.metrics

        def on_report(report: Report) -> None:
            for name, outcome in report.checks.items():
                metrics.ready.labels(name).set(1 if outcome == "ok" else 0)
                if outcome != "ok":
                    metrics.store_error(name, outcome)

        return Readiness(
            checks,
            timeout=self.readiness_timeout,
            cache=self.readiness_cache,
            on_report=on_report,
        )
