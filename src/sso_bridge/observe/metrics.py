"""Prometheus metrics of the broker, on a registry the host chooses.

:func:`metrics_for` gives the one :class:`Metrics` of a registry, so several brokers (and
several adapters) in one process count into the same series instead of registering them
twice. Labels are bounded: providers are the configured names, outcomes and reasons are
declared error codes (a fixed registry), steps and channels fixed words; organisation
ids, accounts and addresses are never labels.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sso_bridge.errors import declared
from sso_bridge.observe.signals import signal

__all__ = [
    "BUCKETS",
    "PREFIX",
    "STEPS",
    "Metrics",
    "bounded_code",
    "exposition",
    "instrument_engine",
    "metrics_for",
    "store_failed",
    "store_timed",
]

PREFIX: Final = "sso_bridge"

STEPS: Final = ("start", "callback", "choose", "local_login", "code", "logout")
"""The login steps whose latency is measured (label ``step``)."""

BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: the broker's work is milliseconds; the tail shows a store that hangs."""

_STORE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)
_STORE_BUCKETS_TAIL: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_VERBS: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})


def bounded_code(code: str | None) -> str:
    """``code`` if it is a declared error code, else ``"other"``: a label never carries
    text from outside the registry."""
    if code is None:
        return "none"
    return code if code in declared() else "other"


class Metrics:
    """Every metric of sso_bridge, registered once on ``registry``; see
    docs/observability.md for what each one counts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._add_login_metrics(registry, PREFIX)
        self._add_dependency_metrics(registry, PREFIX)
        self._engines: weakref.WeakSet[Any] = weakref.WeakSet()
        self._store_children: dict[tuple[str, str], Any] = {}

    def _add_login_metrics(self, r: CollectorRegistry, p: str) -> None:
        """The login steps, the sessions checked and the limits."""
        self.logins = Counter(
            f"{p}_logins",
            "Login steps that ended a login, by outcome.",
            ("provider", "outcome"),
            registry=r,
        )
        self.step_seconds = Histogram(
            f"{p}_step_seconds",
            "Time to serve a login step.",
            ("step",),
            buckets=BUCKETS,
            registry=r,
        )
        self.refusals = Counter(
            f"{p}_refusals",
            "Requests refused with an error code, by step.",
            ("step", "code"),
            registry=r,
        )
        self.second_factors = Counter(
            f"{p}_second_factors",
            "One-time code challenges: opened, passed, failed.",
            ("channel", "result"),
            registry=r,
        )
        self.session_validations = Counter(
            f"{p}_session_validations",
            "Sessions checked for a protected page.",
            ("result",),
            registry=r,
        )
        self.session_refusals = Counter(
            f"{p}_session_refusals",
            "Sessions refused for a protected page, by reason.",
            ("reason",),
            registry=r,
        )
        self.rate_limited = Counter(
            f"{p}_rate_limit_refusals",
            "Steps refused by a limit, by the limit's code.",
            ("limit",),
            registry=r,
        )

    def _add_dependency_metrics(self, r: CollectorRegistry, p: str) -> None:
        """What the IdPs, the stores, their pools and the readiness checks report."""
        self.idp_errors = Counter(
            f"{p}_idp_errors",
            "IdP answers that were errors, by code and ESIA number.",
            ("provider", "code", "esia_number"),
            registry=r,
        )
        self.store_errors = Counter(
            f"{p}_store_errors",
            "Store failures, by store kind and code.",
            ("store", "code"),
            registry=r,
        )
        self.store_seconds = Histogram(
            f"{p}_store_seconds",
            "Time of one store statement.",
            ("store", "operation"),
            buckets=_STORE_BUCKETS + _STORE_BUCKETS_TAIL,
            registry=r,
        )
        self.pool_in_use = Gauge(
            f"{p}_pool_in_use",
            "Database connections checked out.",
            ("pool",),
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            f"{p}_pool_size",
            "Database connections the pool keeps.",
            ("pool",),
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_overflow = Gauge(
            f"{p}_pool_overflow",
            "Connections open beyond the pool's size.",
            ("pool",),
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ready = Gauge(
            f"{p}_ready",
            "1 when the check passed at the last readiness probe.",
            ("check",),
            registry=r,
            multiprocess_mode="liveall",
        )

    def names(self) -> tuple[str, ...]:
        """The metric families registered (``sso_bridge_logins``...), without suffixes."""
        found: list[str] = []
        for value in vars(self).values():
            if isinstance(value, Counter | Gauge | Histogram):
                found.append(value._name)
        return tuple(sorted(found))

    def samples(self) -> tuple[str, ...]:
        """The names of the series exposed (``sso_bridge_logins_total``, ``..._bucket``)."""
        kinds = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum")}
        out: list[str] = []
        for value in vars(self).values():
            if isinstance(value, Counter | Gauge | Histogram):
                suffixes = kinds.get(value._type, ("",))
                out.extend(value._name + s for s in suffixes)
                if value._type == "histogram":
                    out.append(value._name + "_created")
        return tuple(sorted(out))

    def store_error(self, store: str, code: str) -> None:
        """Count a failure of the ``store`` kind (``sql``, ``redis``...) with its code."""
        self.store_errors.labels(store, bounded_code(code)).inc()
        if code == "store.unavailable":
            signal("store.unavailable", store=store)

    def store_time(self, store: str, operation: str, seconds: float) -> None:
        """Record one store operation's duration."""
        key = (store, operation)
        child = self._store_children.get(key)
        if child is None:  # a few pairs in all, each looked up once: this runs per statement
            child = self._store_children[key] = self.store_seconds.labels(store, operation)
        child.observe(seconds)


_SHARED: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def metrics_for(registry: CollectorRegistry | None = None) -> Metrics:
    """The :class:`Metrics` of ``registry`` (prometheus-client's default one when None),
    registered on the first call and shared afterwards."""
    chosen = prometheus_client.REGISTRY if registry is None else registry
    with _LOCK:
        found = _SHARED.get(chosen)
        if found is None:
            found = _SHARED[chosen] = Metrics(chosen)
        return found


def _every() -> list[Metrics]:
    with _LOCK:
        return list(_SHARED.values())


def store_failed(store: str, code: str) -> None:
    """Count a store failure into every registry's metrics (for code that has no
    :class:`Metrics` at hand, such as a store's own error handling)."""
    for metrics in _every():
        metrics.store_error(store, code)


def store_timed(store: str, operation: str, seconds: float) -> None:
    """Record a store operation's time into every registry's metrics (for statements run
    on the driver, which the engine's events do not see)."""
    for metrics in _every():
        metrics.store_time(store, operation, seconds)


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` and its content type."""
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def _verb(statement: str) -> str:
    word = statement.lstrip()[:8].split(None, 1)
    verb = word[0].upper() if word else ""
    return verb.lower() if verb in _VERBS else "other"


def instrument_engine(engine: Any, metrics: Metrics, *, pool: str = "default") -> None:
    """Measure a SQLAlchemy ``engine``: each statement's time (``store="sql"``, by verb),
    driver errors, and the pool's connections in use, size and overflow (label ``pool``).
    Calling it again for the same engine and metrics does nothing."""
    from sqlalchemy import event  # noqa: PLC0415 - only hosts with a database need it

    if engine in metrics._engines:
        return
    metrics._engines.add(engine)
    stack_key = "sso_bridge_started"

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault(stack_key, []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started: list[float] = conn.info.get(stack_key) or []
        if started:
            metrics.store_time("sql", _verb(statement), time.perf_counter() - started.pop())

    def failed(context: Any) -> None:
        conn = context.connection
        if conn is not None:
            started = conn.info.get(stack_key) or []
            if started:
                started.pop()
        disconnect = bool(getattr(context, "is_disconnect", False))
        metrics.store_error("sql", "store.unavailable" if disconnect else "store.error")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
    # read when scraped, not kept up to date on every checkout and checkin
    for gauge, attribute in (
        (metrics.pool_in_use, "checkedout"),
        (metrics.pool_size, "size"),
        (metrics.pool_overflow, "overflow"),
    ):
        gauge.labels(pool).set_function(_pool_reading(weakref.ref(engine), attribute))


def _pool_reading(engine: weakref.ref[Any], attribute: str) -> Callable[[], float]:
    """A reader of the engine's current pool's ``attribute`` (a method of the pool), for a
    gauge; 0 once the engine is gone or where the pool has no such reading."""

    def read() -> float:
        found = engine()
        method = getattr(found.pool, attribute, None) if found is not None else None
        if not callable(method):
            return 0.0
        try:
            return float(max(0, int(method())))
        except Exception:  # a scrape must never fail on one gauge
            return 0.0

    return read
