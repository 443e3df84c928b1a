"""Operating the broker: Prometheus metrics, JSON logs with request ids, readiness.

See docs/observability.md. The web adapters use it through :class:`Observe`; a host
calls :func:`configure_logging` once and, with a database, :func:`instrument_engine`.
"""

from __future__ import annotations

from sso_bridge.observe.health import Readiness, Report, store_checks
from sso_bridge.observe.logs import (
    REQUEST_ID,
    JsonFormatter,
    configure_logging,
    log_audit_event,
    log_unrecorded,
    log_unrecorded_login,
)
from sso_bridge.observe.metrics import Metrics, exposition, instrument_engine, metrics_for
from sso_bridge.observe.requests import Exchange, accept_request_id
from sso_bridge.observe.settings import Observe

__all__ = [
    "REQUEST_ID",
    "Exchange",
    "JsonFormatter",
    "Metrics",
    "Observe",
    "Readiness",
    "Report",
    "accept_request_id",
    "configure_logging",
    "exposition",
    "instrument_engine",
    "log_audit_event",
    "log_unrecorded",
    "log_unrecorded_login",
    "metrics_for",
    "store_checks",
]
