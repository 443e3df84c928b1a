"""Readiness: whether the stores answer, each within its own deadline.

Each check is a function that returns when its store answered and raises otherwise (the
stores' ``ping()``). Each check runs on a daemon thread of its own and is waited for
until ``timeout``: a store that hangs makes the probe answer 503 in time, never hang
it, and a check still hanging from an earlier probe is not started again. The result is
kept for ``cache`` seconds, so a storm of probes does not reach the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from sso_bridge.errors import ConfigError
from sso_bridge.observe.signals import signal

__all__ = ["OK", "UNAVAILABLE", "Readiness", "Report", "store_checks"]

OK: Final = "ok"
UNAVAILABLE: Final = "store.unavailable"

Check = Callable[[], None]

_log = logging.getLogger("sso_bridge.health")


@attrs.frozen
class Report:
    """The outcome of each check (``"ok"`` or an error code) and whether all passed."""

    checks: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return all(v == OK for v in self.checks.values())

    def body(self) -> dict[str, Any]:
        """The JSON body of ``/readyz``: ``status`` and each check's outcome."""
        return {"status": "ok" if self.ready else "unavailable", "checks": dict(self.checks)}


def _ping_of(store: object) -> Check:
    def check() -> None:
        ping = getattr(store, "ping", None)  # a store without ping() passes
        if callable(ping):
            ping()

    return check


def store_checks(broker: object) -> dict[str, Check]:
    """The checks of a broker's stores: ``database`` (the account directory) and
    ``ephemeral`` (the short-lived store), plus ``links``, ``audit`` and ``credentials``
    when those are other objects than the directory."""
    checks: dict[str, Check] = {}
    directory = getattr(broker, "directory", None)
    if directory is not None:
        checks["database"] = _ping_of(directory)
    ephemeral = getattr(broker, "ephemeral", None) or getattr(broker, "_ephemeral", None)
    if ephemeral is not None:
        checks["ephemeral"] = _ping_of(ephemeral)
    seen = {id(directory), id(ephemeral)}
    for name in ("links", "audit", "credentials"):
        found = getattr(broker, name, None)
        if found is not None and id(found) not in seen and callable(getattr(found, "ping", None)):
            checks[name] = _ping_of(found)
            seen.add(id(found))
    return checks


class _Run:
    """One check running on its own daemon thread (a hung store never holds up exit)."""

    def __init__(self, name: str, check: Check) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._check = check
        threading.Thread(target=self._go, name=f"sso-bridge-readyz-{name}", daemon=True).start()

    def _go(self) -> None:
        try:
            self._check()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


def _code(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code.startswith("store.") else UNAVAILABLE


class Readiness:
    """Runs ``checks`` for ``/readyz``; :meth:`report` is safe from any thread."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        timeout: float = 1.0,
        cache: float = 1.0,
        on_report: Callable[[Report], None] | None = None,
    ) -> None:
        if not timeout > 0 or cache < 0:
            raise ConfigError("the readiness timeout must be above 0", code="config.invalid")
        self.checks = dict(checks)
        self.timeout = timeout
        self.cache = cache
        self._on_report = on_report
        self._running: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._last: tuple[float, Report] | None = None

    def report(self) -> Report:
        """Each check's outcome (kept for :attr:`cache` seconds)."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.cache:
                return self._last[1]
            report = self._run()
            self._last = (time.monotonic(), report)
        if self._on_report is not None:
            self._on_report(report)
        return report

    def _run(self) -> Report:
        runs: dict[str, _Run] = {}
        for name, check in self.checks.items():
            running = self._running.get(name)
            if running is None or running.done.is_set():
                running = self._running[name] = _Run(name, check)
            runs[name] = running
        deadline = time.monotonic() + self.timeout
        for run in runs.values():
            run.done.wait(max(0.0, deadline - time.monotonic()))
        outcome: dict[str, str] = {}
        for name, run in runs.items():
            if not run.done.is_set():
                _log.warning(
                    "readiness check %s did not answer within %ss",
                    name,
                    self.timeout,
                    extra={"event": "health.timeout", "check": name},
                )
                outcome[name] = UNAVAILABLE
                signal("readiness.failed", check=name, code=UNAVAILABLE)
                continue
            error = run.error
            outcome[name] = OK if error is None else _code(error)
            if error is not None:
                _log.warning(
                    "readiness check %s failed: %s",
                    name,
                    outcome[name],
                    extra={"event": "health.failed", "check": name, "code": outcome[name]},
                )
                signal("readiness.failed", check=name, code=outcome[name])
        return Report(outcome)
