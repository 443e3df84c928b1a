"""The runner of the fuzzing harness: profiles, the per-input time limit, outcome counters.

A *target* is one entry point of the library with its invariant. For every generated case
the runner calls the target under a time limit and sorts the result into one outcome:

* ``accepted``: the call returned, and the target's ``verify`` found the result to be what
  was signed or given (for SAML: the identity the mock IdP signed);
* a refusal: an :class:`~sso_bridge.errors.BridgeError` whose ``code`` is a stable,
  dotted, lower-case name (``saml.duplicate_id``); the outcome is that code;
* a failure (``FAIL ...``): any other exception, a refusal without a proper code, an
  accepted input that breaks the invariant, or a call that overran its time limit.

The time limit is kept three ways: ``SIGALRM`` interrupts Python code that runs past the
per-input deadline; every call is timed and fails when it took longer, which catches C
code that SIGALRM cannot interrupt once it returns; and a watchdog thread ends the whole
process when a call runs past a hard limit (C code that does not return for a long time),
after writing the case to ``build/fuzz/``. A ``faulthandler`` timer is the last line,
for code that holds the GIL and so stops the watchdog thread too.

Profiles (environment variable ``SSO_BRIDGE_FUZZ``):

* ``quick`` (default, part of ``make test``): a few thousand cases in all; a failure stops
  its target and Hypothesis shrinks it to a small example;
* ``medium``: a twentieth of ``long``, about 50,000 cases;
* ``long`` (``make fuzz``): about 1,000,000 cases. Failures are collected, not raised at
  once: the run goes on, each distinct failure keeps its smallest case (as a script in
  ``failures/``), and a target with failures fails when its chunk ends.

Slow inputs are not shrunk (each try would cost the time limit again): an overrun ends
the chunk, and after ``MAX_OVERRUNS`` (1 in quick, 5 otherwise) the target stops in this
process. Every target also has a time budget and stops when it is spent (checked as each
case is drawn, and by the watchdog should drawing itself stall), so no run outgrows its
expected time by much.

Other variables: ``SSO_BRIDGE_FUZZ_SCALE`` multiplies every count, ``SSO_BRIDGE_FUZZ_DEADLINE``
is the per-input limit in seconds (2), ``SSO_BRIDGE_FUZZ_HARD_LIMIT`` the watchdog's (20),
``SSO_BRIDGE_FUZZ_MAX_OVERRUNS`` see above, ``SSO_BRIDGE_FUZZ_OUT`` a directory for the
counters (``build/fuzz`` for medium and long, none for quick; failures of a quick run are
written to ``build/fuzz/failures``), ``SSO_BRIDGE_FUZZ_CHUNK`` the cases per Hypothesis run
(2,000).
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import hashlib
import json
import math
import os
import re
import signal
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Generic, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sso_bridge.errors import BridgeError

Case = TypeVar("Case")

ROOT: Final = Path(__file__).resolve().parents[2]
PROFILES: Final = ("quick", "medium", "long")
PROFILE: Final = os.environ.get("SSO_BRIDGE_FUZZ", "quick").strip().lower() or "quick"
if PROFILE not in PROFILES:
    raise RuntimeError(f"SSO_BRIDGE_FUZZ={PROFILE!r}: use one of {', '.join(PROFILES)}")
SCALE: Final = float(os.environ.get("SSO_BRIDGE_FUZZ_SCALE", "1"))
DEADLINE: Final = float(os.environ.get("SSO_BRIDGE_FUZZ_DEADLINE", "2"))
HARD_LIMIT: Final = max(float(os.environ.get("SSO_BRIDGE_FUZZ_HARD_LIMIT", "20")), DEADLINE + 1)
CHUNK: Final = int(os.environ.get("SSO_BRIDGE_FUZZ_CHUNK", "2000"))
COLLECT: Final = PROFILE != "quick"
"""Collect failures and go on (medium, long) instead of stopping at the first (quick)."""
_out = os.environ.get("SSO_BRIDGE_FUZZ_OUT") or (str(ROOT / "build" / "fuzz") if COLLECT else "")
OUT: Final = Path(_out) if _out else None

ACCEPTED: Final = "accepted"
CODE_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
REPRO_LIMIT: Final = 64 * 1024
"""Longest reproducer kept in a counter line or a failure file."""


@dataclass(frozen=True)
class Budget:
    """Cases for one target: ``quick`` for ``make test``, ``long`` for ``make fuzz``; and
    the most seconds the target may take in the long profile (a twentieth in medium,
    ``QUICK_SECONDS`` in quick): past them it stops, so that no run outgrows its time."""

    quick: int
    long: int
    seconds: float


QUICK_SECONDS: Final = 15.0


# Cases and seconds per target, from the cases per second each target reached in a medium
# run with both shards at work: the cheap pure-Python targets take the bulk of the million
# cases, the signature-checking ones fewer. Expected time: 25 to 30 minutes for each shard;
# the seconds (about twice the expected time) cap a shard at about 55 minutes even when a
# target turns slow.
BUDGETS: Final[dict[str, Budget]] = {
    # shard A (Makefile: FUZZ_A): SAML, about 370,000 cases
    "saml_login": Budget(400, 170_000, 1300),
    "saml_random_xml": Budget(100, 40_000, 350),
    "saml_parse_xml": Budget(200, 60_000, 650),
    "saml_logout_post": Budget(150, 50_000, 260),
    "saml_logout_redirect": Budget(150, 50_000, 350),
    # shard B (FUZZ_B): OIDC, JSON bodies, identity mapping, normalisers, the importer,
    # about 670,000 cases
    "idtoken_claims": Budget(400, 80_000, 450),
    "idtoken_header": Budget(200, 40_000, 250),
    "idtoken_garbled": Budget(200, 50_000, 220),
    "json_object": Budget(300, 40_000, 200),
    "jwks": Budget(150, 20_000, 180),
    "discovery": Budget(120, 20_000, 120),
    "identity_claims": Budget(150, 40_000, 230),
    "identity_esia": Budget(150, 40_000, 160),
    "normalize_name": Budget(300, 100_000, 170),
    "snils": Budget(250, 60_000, 130),
    "passport": Budget(150, 30_000, 60),
    "date": Budget(200, 40_000, 80),
    "identity_keys": Budget(150, 40_000, 110),
    "import_csv": Budget(200, 50_000, 900),
    "import_sqlite": Budget(25, 4_000, 180),
    # sessions: tokens, client addresses, kept requests
    "session_token": Budget(300, 60_000, 120),
    "client_ip": Budget(300, 60_000, 120),
    "kept_request": Budget(200, 40_000, 150),
}


def seconds(target: str) -> float:
    """The time ``target`` may take in this process, in this profile."""
    budget = BUDGETS[target]
    limit = {"quick": QUICK_SECONDS, "medium": budget.seconds / 20, "long": budget.seconds}
    return limit[PROFILE] * max(SCALE, 1.0)


def examples(target: str) -> int:
    """How many cases ``target`` gets in this profile."""
    budget = BUDGETS[target]
    count = {"quick": budget.quick, "medium": budget.long // 20, "long": budget.long}[PROFILE]
    return max(1, round(count * SCALE))


def chunks(target: str) -> list[Any]:
    """pytest parameters: one per Hypothesis run of at most ``SSO_BRIDGE_FUZZ_CHUNK`` cases."""
    total = examples(target)
    parts = max(1, math.ceil(total / CHUNK))
    sizes = [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
    return [pytest.param(size, id=f"{i + 1}of{parts}") for i, size in enumerate(sizes)]


# -- the time limit ---------------------------------------------------------------------------


class InputOverrun(BaseException):
    """Raised by SIGALRM inside a call that ran past the per-input deadline.

    A ``BaseException``, so that ``except Exception`` in the code under test cannot
    swallow it.
    """


class _Guard:
    """The call in progress, for the alarm handler and the watchdog thread."""

    def __init__(self) -> None:
        self.armed = False
        self.current: tuple[float, Runner[Any], Any] | None = None
        self.active = False  # a target is being fuzzed: the backstop is kept armed
        self.lock = threading.Lock()
        self.backstop_file: IO[str] | None = None
        self.watchdog: threading.Thread | None = None
        self.use_alarm = False
        self.runner: Runner[Any] | None = None  # the target being fuzzed
        self.stop_requested = False

    def install(self) -> None:
        if self.watchdog is None:
            self.watchdog = threading.Thread(target=_watch, name="fuzz-watchdog", daemon=True)
            self.watchdog.start()
        self.use_alarm = threading.current_thread() is threading.main_thread() and hasattr(
            signal, "setitimer"
        )
        if self.use_alarm:
            signal.signal(signal.SIGALRM, _on_alarm)
        with self.lock:
            self.active = True
            self.keep_backstop()

    def uninstall(self) -> None:
        if self.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        with self.lock:
            self.active = False
            faulthandler.cancel_dump_traceback_later()

    def keep_backstop(self) -> None:
        """(Re)arm the last line: the watchdog thread does this four times a second, so it
        fires only when that thread cannot run for ``HARD_LIMIT + 10`` s (the GIL held by
        code that never lets go). Call with the lock held."""
        if self.active:
            faulthandler.dump_traceback_later(HARD_LIMIT + 10, exit=True, file=self._backstop())

    def start(self, runner: Runner[Any], case: Any) -> float:
        now = time.perf_counter()
        self.current = (now, runner, case)
        self.armed = True
        if self.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, DEADLINE)
        return now

    def stop(self, started: float) -> float:
        self.armed = False
        if self.use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.current = None
        return time.perf_counter() - started

    def _backstop(self) -> IO[str]:
        if self.backstop_file is None:
            directory = OUT or Path(tempfile.gettempdir())
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"fuzz-backstop-{os.getpid()}.txt"
            self.backstop_file = path.open("w")
            handle = self.backstop_file

            def remove_if_empty() -> None:
                handle.close()
                with contextlib.suppress(OSError):
                    if path.stat().st_size == 0:
                        path.unlink()

            import atexit  # noqa: PLC0415 - needed only once a backstop file exists

            atexit.register(remove_if_empty)
        return self.backstop_file


_GUARD: Final = _Guard()
suspend_capture: Callable[[], None] | None = None
"""Set by the conftest: stops pytest's output capture before the watchdog ends the process."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    if _GUARD.stop_requested:  # sent by the watchdog: drawing cases stalls past the budget
        _GUARD.stop_requested = _GUARD.armed = False
        runner = _GUARD.runner
        if runner is not None:
            _STOPPED[runner.name] = f"its {seconds(runner.name):.0f} s (drawing stalled)"
        raise StopFuzzing("time budget")
    if _GUARD.armed:
        _GUARD.armed = False
        raise InputOverrun(f"the call ran longer than {DEADLINE} s")


def _watch() -> None:
    """Ends the process when one call runs past ``HARD_LIMIT`` (it would hang the suite)."""
    while True:
        time.sleep(0.25)
        with _GUARD.lock:
            _GUARD.keep_backstop()
            runner_ = _GUARD.runner
            if (
                _GUARD.active
                and _GUARD.use_alarm
                and runner_ is not None
                and _GUARD.current is None
                and runner_.overdue(grace=30.0)
            ):
                _GUARD.stop_requested = True
                os.kill(os.getpid(), signal.SIGALRM)
        current = _GUARD.current
        if current is None:
            continue
        started, runner, case = current
        elapsed = time.perf_counter() - started
        if elapsed < HARD_LIMIT or _GUARD.current is not current:
            continue
        directory = OUT or ROOT / "build" / "fuzz"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"hang-{runner.name}-{os.getpid()}.txt"
        try:
            snippet = runner.target.repro(case)
        except Exception as exc:  # the report must be written whatever happens
            snippet = f"# cannot describe the case: {exc!r}\n{case!r}"
        with path.open("w") as handle:
            handle.write(
                f"# target {runner.name}: one call ran for {elapsed:.1f} s "
                f"(hard limit {HARD_LIMIT} s); the process was ended.\n{snippet}\n\n"
            )
            handle.flush()
            faulthandler.dump_traceback(file=handle, all_threads=True)
        runner.counter[f"FAIL hang>{HARD_LIMIT:g}s"] += 1
        runner.save()
        message = f"\nfuzz: {runner.name}: a call ran for {elapsed:.0f} s; case in {path}\n"
        if suspend_capture is not None:
            with contextlib.suppress(Exception):
                suspend_capture()  # so that the message reaches the terminal
        os.write(2, message.encode())
        os._exit(75)


# -- targets and the runner -------------------------------------------------------------------


class StopFuzzing(BaseException):
    """Ends a target's Hypothesis run at once, without shrinking (Hypothesis lets exceptions
    that are not ``Exception`` through); the runner then reports what it collected."""


OVERRUN: Final = "FAIL overrun"
MAX_OVERRUNS: Final = int(
    os.environ.get("SSO_BRIDGE_FUZZ_MAX_OVERRUNS", "1" if not COLLECT else "5")
)
"""Overruns after which a target stops in this process (each one costs the time limit)."""
_OVERRUNS: Final[Counter[str]] = Counter()
_SPENT: Final[Counter[str]] = Counter()  # seconds each target has run in this process
_STOPPED: Final[dict[str, str]] = {}  # targets that stopped early in this process, and why


class InvariantViolation(AssertionError):
    """An accepted input whose result is not what was signed or given."""


class FuzzFailure(AssertionError):
    """A failure found by the harness; the message holds a reproducer."""


@dataclass
class Target(Generic[Case]):
    """One fuzzed entry point.

    ``call`` runs the code under test on a case (this part is timed); ``verify`` checks
    the invariant on an accepted result and may return a more precise outcome than
    ``accepted``; ``repro`` writes a self-contained Python snippet for a case;
    ``must_accept`` names cases that must not be refused (the unmutated baselines).
    """

    name: str
    call: Callable[[Case], Any]
    verify: Callable[[Case, Any], str | None]
    repro: Callable[[Case], str]
    must_accept: Callable[[Case], bool] = lambda case: False


@dataclass
class _Failure:
    signature: str
    kind: str
    message: str
    repro: str
    count: int = 0


@dataclass
class Runner(Generic[Case]):
    """Runs one target's cases and keeps its counters for this process."""

    target: Target[Case]
    counter: Counter[str] = field(default_factory=Counter)
    call_seconds: float = 0.0
    slowest: float = 0.0
    failures: dict[str, _Failure] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    saved: bool = False

    @property
    def name(self) -> str:
        return self.target.name

    def overdue(self, grace: float = 0.0) -> bool:
        """Whether this target has used its time in this process (plus ``grace``)."""
        spent = _SPENT[self.name] + time.perf_counter() - self.started
        return spent > seconds(self.name) + grace

    def gate(self, case: Case) -> Case:
        """Applied to every case as it is drawn: ends the run when the time is spent."""
        if self.overdue():
            _STOPPED[self.name] = f"its {seconds(self.name):.0f} s"
            raise StopFuzzing(self.name)
        return case

    def run(self, case: Case) -> str:
        started = _GUARD.start(self, case)
        error: BaseException | None = None
        result: Any = None
        try:
            try:
                result = self.target.call(case)
            finally:
                elapsed = _GUARD.stop(started)
        except InputOverrun as exc:
            elapsed = time.perf_counter() - started
            error = exc
        except BridgeError as exc:
            error = exc
        except Exception as exc:  # every other exception is a finding
            error = exc
        self.call_seconds += elapsed
        self.slowest = max(self.slowest, elapsed)
        outcome, problem = self._judge(case, result, error, elapsed)
        self.counter[outcome] += 1
        if problem is not None:
            self._fail(case, outcome, problem)
        return outcome

    def _judge(
        self, case: Case, result: Any, error: BaseException | None, elapsed: float
    ) -> tuple[str, BaseException | None]:
        if isinstance(error, InputOverrun) or elapsed > DEADLINE:
            return OVERRUN, TimeoutError(
                f"one call took {elapsed:.2f} s; the limit is {DEADLINE} s"
            )
        if isinstance(error, BridgeError):
            code = getattr(error, "code", None)
            if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
                return "FAIL bad_code", error
            if self.target.must_accept(case):
                return "FAIL refused_baseline", error
            return code, None
        if error is not None:
            return f"FAIL {type(error).__name__}", error
        try:
            label = self.target.verify(case, result)
        except InvariantViolation as exc:
            return "FAIL invariant", exc
        return label or ACCEPTED, None

    def _fail(self, case: Case, outcome: str, problem: BaseException) -> None:
        try:
            snippet = self.target.repro(case)
        except Exception as exc:  # describing a case must never hide the failure
            snippet = f"# cannot describe the case: {exc!r}"
        case_text = " ".join(repr(case)[:4000].split())
        snippet = f"# case: {case_text}\n{snippet}"
        message = f"{type(problem).__name__}: {problem}"[:2000]
        signature = f"{self.name}|{outcome}|{_where(problem)}"
        known = self.failures.get(signature)
        if known is None:
            known = self.failures[signature] = _Failure(signature, outcome, message, snippet)
        elif len(snippet) < len(known.repro):
            known.repro, known.message = snippet, message
        known.count += 1
        if outcome == OVERRUN:
            # Slow cases are not shrunk (each try would cost the time limit again): the
            # chunk ends, and after MAX_OVERRUNS the target stops in this process.
            _OVERRUNS[self.name] += 1
            if _OVERRUNS[self.name] >= MAX_OVERRUNS:
                _STOPPED[self.name] = f"{MAX_OVERRUNS} overrun(s)"
            raise StopFuzzing(self.name)
        if not COLLECT:
            path = _write_failure(self.name, signature, f"# {outcome}: {message}\n{snippet}")
            raise FuzzFailure(
                f"{self.name}: {outcome}: {message}\nreproducer: {path}"
                f"\n{snippet[:1500]}{' ...' if len(snippet) > 1500 else ''}"
            ) from problem

    def save(self) -> None:
        """Append this process's counters for the target to ``OUT/counts-<pid>.jsonl``."""
        if OUT is None or self.saved:
            return
        self.saved = True
        OUT.mkdir(parents=True, exist_ok=True)
        failures = []
        for failure in self.failures.values():
            path = _write_failure(
                self.name,
                failure.signature,
                f"# {failure.kind}: {failure.message}\n{failure.repro}",
            )
            failures.append(
                {
                    "signature": failure.signature,
                    "kind": failure.kind,
                    "message": failure.message,
                    "count": failure.count,
                    "file": str(path),
                }
            )
        line = {
            "pid": os.getpid(),
            "profile": PROFILE,
            "target": self.name,
            "planned": examples(self.name),
            "inputs": sum(self.counter.values()),
            "call_seconds": round(self.call_seconds, 3),
            "wall_seconds": round(time.perf_counter() - self.started, 3),
            "slowest_call": round(self.slowest, 4),
            "outcomes": dict(self.counter),
            "failures": failures,
            "stopped": _STOPPED.get(self.name),
        }
        with (OUT / f"counts-{os.getpid()}.jsonl").open("a") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def finish(self) -> None:
        self.save()
        if self.failures:
            lines = []
            for failure in self.failures.values():
                text = f"# {failure.kind}: {failure.message}\n{failure.repro}"
                path = _write_failure(self.name, failure.signature, text)
                lines.append(
                    f"{failure.count} x {failure.kind}: {failure.message[:300]}\nreproducer: {path}"
                )
            raise FuzzFailure(f"{self.name}: distinct failures:\n" + "\n".join(lines))


def _write_failure(target: str, signature: str, text: str) -> Path:
    """Keep the shortest reproducer of one distinct failure in ``failures/`` of the output
    directory (``build/fuzz`` when none is set)."""
    digest = hashlib.sha256(signature.encode()).hexdigest()[:10]
    path = (OUT or ROOT / "build" / "fuzz") / "failures" / f"{target}-{digest}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = text[:REPRO_LIMIT] + "\n"
    if not path.exists() or len(text) <= len(path.read_text()):
        path.write_text(text)
    return path


def _where(problem: BaseException) -> str:
    """Where an exception was raised: its innermost frame in the library, else its last."""
    frames = traceback.extract_tb(problem.__traceback__)
    inside = [f for f in frames if f"{os.sep}sso_bridge{os.sep}" in f.filename]
    chosen = (inside or frames)[-1:] if frames else []
    return ";".join(f"{Path(f.filename).name}:{f.lineno}" for f in chosen) or type(problem).__name__


# -- running a target under Hypothesis --------------------------------------------------------

SUPPRESSED: Final = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]


def fuzz(target: Target[Case], strategy: st.SearchStrategy[Case], count: int) -> None:
    """Run ``count`` cases of ``strategy`` through ``target`` (one Hypothesis run)."""
    runner: Runner[Case] = Runner(target)
    # quick: shrink what fails; long: no shrinking, failures are collected. (Hypothesis's
    # target phase, steering towards slow inputs, stalled for minutes at a time here.)
    phases = [Phase.explicit, Phase.generate]
    if not COLLECT:
        phases.append(Phase.shrink)

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=False,
        database=None,
        phases=phases,
        suppress_health_check=SUPPRESSED,
        print_blob=False,
    )
    @given(strategy.map(runner.gate))
    def run(case: Case) -> None:
        runner.run(case)

    if target.name in _STOPPED:
        pytest.skip(f"{target.name} stopped after {_STOPPED[target.name]} in this process")
    _GUARD.runner = runner
    _GUARD.install()
    try:
        run()
    except StopFuzzing:
        pass  # finish() reports what was collected
    finally:
        _GUARD.uninstall()
        _GUARD.runner = None
        _GUARD.stop_requested = False
        _SPENT[target.name] += time.perf_counter() - runner.started
        runner.save()
    runner.finish()


# -- strategy helpers -------------------------------------------------------------------------


@functools.cache
def _percent() -> st.SearchStrategy[int]:
    return st.integers(0, 99)


@functools.cache
def op_lists(strategy: st.SearchStrategy[Any], size: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """One to ``size`` draws of ``strategy`` (strategies are built once: building them anew
    for every case costs more than running most targets)."""
    return st.lists(strategy, min_size=1, max_size=size).map(tuple)


def sometimes(
    draw: st.DrawFn, percent: int, strategy: st.SearchStrategy[Any], size: int = 1
) -> tuple[Any, ...]:
    """Up to ``size`` draws of ``strategy`` in ``percent`` of the cases, else none (what a
    failing case shrinks to)."""
    if draw(_percent()) < 100 - percent:  # small numbers, the ones Hypothesis shrinks to
        return ()
    return tuple(draw(op_lists(strategy, size)))
