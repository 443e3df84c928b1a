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

Every input of a target with a CPU budget is also timed in CPU time of the calling thread
(``time.thread_time``): see "CPU budget" below.

Slow inputs are not shrunk (each try would cost the time limit again): an overrun ends
the chunk, and after ``MAX_OVERRUNS`` (1 in quick, 5 otherwise) the target stops in this
process. Every target also has a time budget and stops when it is spent (checked as each
case is drawn, and by the watchdog should drawing itself stall), so no run outgrows its
expected time by much.

CPU budget: no unauthenticated input within the size limits may cost more than
``SSO_BRIDGE_FUZZ_CPU_BUDGET_MS`` (20) milliseconds of CPU. The budget is per target
(``Target.cpu_budget_ms``; None for targets whose input is not unauthenticated, such as the
administrator's CSV files) and holds for refused and accepted inputs alike; an accepted input
may exceed it by the cost of its one signature verification where the target names that work
(``Target.signature_work``: a GOST token's Streebog hash grows with its length). CPU time of
the calling thread is used rather than wall time, which on a shared 2-core machine counts
whatever else runs, and rather than process time, which would count the watchdog thread too;
no entry point fuzzed here hands its work to another thread. An input over the budget is run
again (after ``gc.collect()``, so that a collection owed to earlier inputs is not charged to
it) up to ``RERUNS`` (3) times, and is slow only if every run is over: the least CPU time
counts. Re-runs stop at the first run under the budget, and after one re-run when both runs
took more than ``CONFIRM_FACTOR`` (5) times the budget (no noise is that large).

Each target keeps its ``SLOWEST_KEPT`` (5) slowest inputs with their CPU time, outcome and
shape. In quick, a slow input fails its target at once (not shrunk: timing is not
reproducible enough to shrink on); in medium and long slow inputs are collected, counted in
``counts-<pid>.jsonl``, and the slowest ones are written as scripts to ``slow/`` (those over
the budget to ``failures/`` as well); a target with a slow input fails when its chunk ends.
A kind of input (a cost target's shape and size) that was slow ``SLOW_PER_KIND`` (2) times
in a process, or overran once, is drawn no more there (:func:`exhausted`), so that a slow path
already found does not use up the target's time; the cost targets run in chunks of 100 cases,
since an overrun ends its chunk, and stop after 50 overruns rather than 5.

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
import gc
import hashlib
import heapq
import itertools
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Generic, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sso_bridge.errors import BridgeError

Case = TypeVar("Case")
T = TypeVar("T")

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
SLOW_REPRO_LIMIT: Final = 8 * 1024 * 1024
"""Longest reproducer of a slow input (its size is what makes it slow: never cut)."""

CPU_BUDGET_MS: Final = float(os.environ.get("SSO_BRIDGE_FUZZ_CPU_BUDGET_MS", "20"))
"""The most CPU time, in milliseconds, one unauthenticated input may cost."""
RERUNS: Final = 3
"""Re-runs of an input over its budget; it is slow only if the least CPU time is over."""
CONFIRM_FACTOR: Final = 5.0
"""Two runs over this many times the budget confirm a slow input without a third."""
SLOWEST_KEPT: Final = 5
"""The slowest inputs kept per target, with their CPU time, outcome and a reproducer."""
SLOW: Final = "FAIL slow"
SLOW_PER_KIND: Final = 2
"""In medium and long, inputs of one kind (see :func:`exhausted`) that may be slow or overrun
in a process before the cost targets stop drawing that kind there."""


@dataclass(frozen=True)
class Budget:
    """Cases for one target: ``quick`` for ``make test``, ``long`` for ``make fuzz``; and
    the most seconds the target may take in the long profile (a twentieth in medium,
    ``QUICK_SECONDS`` in quick): past them it stops, so that no run outgrows its time."""

    quick: int
    long: int
    seconds: float
    chunk: int | None = None
    """Cases per Hypothesis run (None: ``SSO_BRIDGE_FUZZ_CHUNK``). An overrun ends its run,
    so the cost targets, whose inputs may overrun until the slow paths they look for are
    gone, run in small chunks: one overrun does not end the whole target."""
    overruns: int | None = None
    """Overruns after which the target stops in medium and long (None: ``MAX_OVERRUNS``).
    The cost targets look for slow paths and so take more; their time budget bounds them,
    and a kind of input that overran is not drawn again (:func:`exhausted`)."""


QUICK_SECONDS: Final = 15.0


# Cases and seconds per target, from the cases per second each target reached in a medium
# run with both shards at work: the cheap pure-Python targets take the bulk of the million
# cases, the signature-checking ones fewer. Expected time: 25 to 30 minutes for each shard;
# the seconds (about twice the expected time) cap a shard at about 70 minutes even when a
# target turns slow.
BUDGETS: Final[dict[str, Budget]] = {
    # shard A (Makefile: FUZZ_A): SAML, and what SAML and OIDC input costs, about 400,000
    # cases
    "saml_login": Budget(400, 170_000, 1300),
    "saml_random_xml": Budget(100, 40_000, 350),
    "saml_parse_xml": Budget(200, 60_000, 650),
    "saml_logout_post": Budget(150, 50_000, 260),
    "saml_logout_redirect": Budget(150, 50_000, 350),
    # shard A: what input costs (test_fuzz_cost_saml.py, test_fuzz_cost_oidc.py): shapes at
    # the size limits, 20 to 70 ms each to build and to check (documents of 256 KiB, JSON
    # of 1 MiB), more while the slow paths they look for are there
    "cost_saml_login": Budget(60, 6_000, 300, chunk=100, overruns=50),
    "cost_saml_logout_post": Budget(30, 3_000, 150, chunk=100, overruns=50),
    "cost_saml_logout_redirect": Budget(30, 3_000, 150, chunk=100, overruns=50),
    "cost_idtoken": Budget(60, 15_000, 150, chunk=100, overruns=50),
    "cost_token_body": Budget(40, 3_000, 250, chunk=100, overruns=50),
    "cost_jwks": Budget(30, 2_000, 200, chunk=100, overruns=50),
    # shard B (FUZZ_B): OIDC, JSON bodies, identity mapping, normalisers, the importer,
    # sessions, what ESIA input costs, about 820,000 cases
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
    # what ESIA input costs (test_fuzz_cost_esia.py): client secrets with fields up to the
    # form limit, GOST tokens against up to 16 pinned certificates
    "cost_esia_secret": Budget(40, 4_000, 250, chunk=100, overruns=50),
    "cost_esia_token": Budget(30, 4_000, 120, chunk=100, overruns=50),
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
    parts = max(1, math.ceil(total / (BUDGETS[target].chunk or CHUNK)))
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
_SLOW_KINDS: Final[Counter[str]] = Counter()  # "target|kind": slow inputs and overruns


class InvariantViolation(AssertionError):
    """An accepted input whose result is not what was signed or given."""


class FuzzFailure(AssertionError):
    """A failure found by the harness; the message holds a reproducer."""


class SlowInput(AssertionError):
    """An input that cost more CPU time than its target's budget, in every run."""


@dataclass
class Target(Generic[Case]):
    """One fuzzed entry point.

    ``call`` runs the code under test on a case (this part is timed); ``verify`` checks
    the invariant on an accepted result and may return a more precise outcome than
    ``accepted``; ``repro`` writes a self-contained Python snippet for a case;
    ``must_accept`` names cases that must not be refused (the unmutated baselines).

    ``cpu_budget_ms``: the most CPU time one input may cost (None: not bounded, for input
    that does not come from an unauthenticated party); ``signature_work`` does the one
    signature verification an accepted case needs (its cost is added to the budget of an
    accepted case: only unauthenticated cost is bounded); ``shape`` says in a line what a
    case is made of (its kind and size), for reports of slow inputs. ``call`` may be run
    again on the same case (to confirm a slow one), so it must not depend on earlier calls.
    """

    name: str
    call: Callable[[Case], Any]
    verify: Callable[[Case, Any], str | None]
    repro: Callable[[Case], str]
    must_accept: Callable[[Case], bool] = lambda case: False
    cpu_budget_ms: float | None = CPU_BUDGET_MS
    signature_work: Callable[[Case], object] | None = None
    shape: Callable[[Case], str] | None = None


@dataclass
class _Failure:
    signature: str
    kind: str
    message: str
    repro: str
    count: int = 0


@dataclass(order=True)
class _Costly(Generic[Case]):
    """One of the slowest inputs of a target (ordered by CPU time, for the heap)."""

    cpu_ms: float
    sequence: int  # negative, in the order measured: ties go to the earlier input
    outcome: str = field(compare=False)
    shape: str = field(compare=False)
    budget_ms: float | None = field(compare=False)
    case: Any = field(compare=False, repr=False)

    @property
    def slow(self) -> bool:
        return self.budget_ms is not None and self.cpu_ms > self.budget_ms


def case_kind(target: Target[Any], case: Any) -> str:
    """The kind of a case: its ``kind`` attribute (the cost targets' shape and size), else
    the first word of its description."""
    kind = getattr(case, "kind", None)
    return kind if isinstance(kind, str) else describe(target, case).split(" ")[0]


def exhausted(target: str, kind: str) -> bool:
    """Whether inputs of ``kind`` were slow or overran ``SLOW_PER_KIND`` times in this process
    (medium and long only). The cost targets then draw other kinds: a slow path that is
    already known must not use up the target's time, nor hide the next one."""
    return COLLECT and _SLOW_KINDS[f"{target}|{kind}"] >= SLOW_PER_KIND


def draw_live(draw: st.DrawFn, target: str, choices: Sequence[T], kind: Callable[[T], str]) -> T:
    """One of ``choices`` whose kind is not :func:`exhausted` (any, when none is left).

    What is drawn never depends on what is exhausted (Hypothesis requires the same draws
    from the same data): an index is drawn from all the choices, and an exhausted choice is
    replaced by the next live one. Callers draw everything else before they look at the
    choice, so that no later draw depends on it either.
    """
    index = draw(_indices(len(choices)))
    for step in range(len(choices)):
        choice = choices[(index + step) % len(choices)]
        if not exhausted(target, kind(choice)):
            return choice
    return choices[index]


@functools.cache
def _indices(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, size - 1)


def describe(target: Target[Any], case: Any) -> str:
    """A case's shape in one line (the target's own words, else the start of its repr)."""
    try:
        text = target.shape(case) if target.shape is not None else repr(case)
    except Exception as exc:  # describing a case must never hide what it did
        text = f"(cannot describe the case: {exc!r})"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass(repr=False)
class Runner(Generic[Case]):
    """Runs one target's cases and keeps its counters for this process."""

    target: Target[Case]
    counter: Counter[str] = field(default_factory=Counter)
    call_seconds: float = 0.0
    cpu_seconds: float = 0.0
    slowest: float = 0.0
    failures: dict[str, _Failure] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    saved: bool = False
    slow_inputs: int = 0  # inputs over the CPU budget, confirmed by re-runs
    reruns: int = 0

    @property
    def costly(self) -> list[_Costly[Any]]:
        """The slowest inputs of this target in this process (over all its chunks), as a
        heap: the cheapest of them first."""
        return _COSTLY.setdefault(self.name, [])

    @property
    def name(self) -> str:
        return self.target.name

    def __repr__(self) -> str:  # Hypothesis prints it with the strategy: keep it short
        return f"Runner({self.name})"

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
        cpu_started = time.thread_time()
        try:
            try:
                result = self.target.call(case)
            finally:
                cpu = time.thread_time() - cpu_started
                elapsed = _GUARD.stop(started)
        except InputOverrun as exc:
            elapsed = time.perf_counter() - started
            error = exc
        except BridgeError as exc:
            error = exc
        except Exception as exc:  # every other exception is a finding
            error = exc
        self.call_seconds += elapsed
        self.cpu_seconds += cpu
        self.slowest = max(self.slowest, elapsed)
        outcome, problem = self._judge(case, result, error, elapsed)
        self.counter[outcome] += 1
        if problem is not None:
            self._keep_costly(case, cpu * 1000, outcome, None)
            self._fail(case, outcome, problem)
            return outcome
        self._check_cost(case, cpu * 1000, outcome)
        return outcome

    # -- the CPU budget -----------------------------------------------------------------------

    def _check_cost(self, case: Case, cpu_ms: float, outcome: str) -> None:
        """Hold an input to the target's CPU budget: confirm an overrun by re-runs, keep the
        slowest inputs, and count (in quick: fail on) a slow one."""
        budget = self.target.cpu_budget_ms
        if budget is None:
            self._keep_costly(case, cpu_ms, outcome, None)
            return
        if cpu_ms > budget:
            cpu_ms = self._least_cpu_ms(case, cpu_ms, budget)
        if cpu_ms > budget and outcome.startswith(ACCEPTED) and self.target.signature_work:
            budget += self._signature_ms(case)
        entry = self._keep_costly(case, cpu_ms, outcome, budget)
        if cpu_ms <= budget:
            return
        self.slow_inputs += 1
        shape = entry.shape or describe(self.target, case)
        message = (
            f"{cpu_ms:.1f} ms of CPU, over the budget of {budget:.1f} ms; outcome {outcome}; "
            f"shape: {shape}"
        )
        # one distinct failure per kind of case
        self._fail(
            case, SLOW, SlowInput(message), f"{self.name}|slow|{case_kind(self.target, case)}"
        )

    def _least_cpu_ms(self, case: Case, first_ms: float, budget: float) -> float:
        """The least CPU time of ``case`` over up to ``RERUNS`` more runs (see the module's
        docstring); stops as soon as the answer is clear."""
        least = first_ms
        for attempt in range(RERUNS):
            gc.collect()
            self.reruns += 1
            least = min(least, self._cpu_ms_of(lambda: self.target.call(case), case))
            if least <= budget:
                break
            if attempt == 0 and least > CONFIRM_FACTOR * budget:
                break
        return least

    def _signature_ms(self, case: Case) -> float:
        """What the one signature verification of an accepted ``case`` costs (least of 3)."""
        work = self.target.signature_work
        assert work is not None
        gc.collect()
        return min(self._cpu_ms_of(lambda: work(case), case) for _ in range(3))

    def _cpu_ms_of(self, work: Callable[[], object], case: Case) -> float:
        """CPU milliseconds of one call of ``work``, under the same time limit as any call;
        its result and its exceptions do not matter here (the first run was judged)."""
        started = _GUARD.start(self, case)
        begin = time.thread_time()
        try:
            with contextlib.suppress(Exception, InputOverrun):
                work()
        finally:
            cpu = time.thread_time() - begin
            _GUARD.stop(started)
        return cpu * 1000

    def _keep_costly(
        self, case: Case, cpu_ms: float, outcome: str, budget: float | None
    ) -> _Costly[Case]:
        """Keep the input if it is one of the ``SLOWEST_KEPT`` slowest so far (described
        then; a cheaper one is not described at all: most inputs are cheap)."""
        entry: _Costly[Case] = _Costly(cpu_ms, -next(_MEASURED), outcome, "", budget, case)
        if len(self.costly) < SLOWEST_KEPT:
            heapq.heappush(self.costly, entry)
        elif entry > self.costly[0]:
            dropped = heapq.heapreplace(self.costly, entry)
            if OUT is not None:  # its reproducer, if one was written, is no longer wanted
                _costly_path(self.name, dropped).unlink(missing_ok=True)
        else:
            return entry
        entry.shape = describe(self.target, case)
        return entry

    def slowest_inputs(self) -> list[_Costly[Any]]:
        """The kept slowest inputs, the slowest first."""
        return sorted(self.costly, reverse=True)

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

    def _fail(
        self, case: Case, outcome: str, problem: BaseException, signature: str | None = None
    ) -> None:
        try:
            snippet = self.target.repro(case)
        except Exception as exc:  # describing a case must never hide the failure
            snippet = f"# cannot describe the case: {exc!r}"
        case_text = " ".join(repr(case)[:4000].split())
        snippet = f"# case: {case_text}\n{snippet}"
        message = f"{type(problem).__name__}: {problem}"[:2000]
        if outcome in (OVERRUN, SLOW):  # an overrun costs seconds: one is enough to know
            weight = SLOW_PER_KIND if outcome == OVERRUN else 1
            _SLOW_KINDS[f"{self.name}|{case_kind(self.target, case)}"] += weight
        if outcome == OVERRUN:
            message += f"; shape: {describe(self.target, case)}"
        signature = signature or f"{self.name}|{outcome}|{_where(problem)}"
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
            most = (COLLECT and BUDGETS[self.name].overruns) or MAX_OVERRUNS
            if _OVERRUNS[self.name] >= most:
                _STOPPED[self.name] = f"{most} overrun(s)"
            raise StopFuzzing(self.name)
        if outcome == SLOW:
            if not COLLECT:
                # Not shrunk either: CPU time near the budget does not repeat exactly enough
                # for Hypothesis to shrink on; the target stops and finish() reports it.
                _STOPPED[self.name] = "a slow input"
                raise StopFuzzing(self.name)
            return
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
        slowest = []
        for entry in self.slowest_inputs():
            slowest.append(
                {
                    "cpu_ms": round(entry.cpu_ms, 2),
                    "outcome": entry.outcome,
                    "shape": entry.shape,
                    "budget_ms": entry.budget_ms,
                    "slow": entry.slow,
                    "file": str(self._write_costly(entry)),
                }
            )
        line = {
            "pid": os.getpid(),
            "profile": PROFILE,
            "target": self.name,
            "planned": examples(self.name),
            "inputs": sum(self.counter.values()),
            "call_seconds": round(self.call_seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "wall_seconds": round(time.perf_counter() - self.started, 3),
            "slowest_call": round(self.slowest, 4),
            "cpu_budget_ms": self.target.cpu_budget_ms,
            "slow_inputs": self.slow_inputs,
            "reruns": self.reruns,
            "slowest": slowest,
            "outcomes": dict(self.counter),
            "failures": failures,
            "stopped": _STOPPED.get(self.name),
        }
        with (OUT / f"counts-{os.getpid()}.jsonl").open("a") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _write_costly(self, entry: _Costly[Any]) -> Path | None:
        """A reproducer of one of the slowest inputs in ``slow/`` (medium and long)."""
        if OUT is None:
            return None
        path = _costly_path(self.name, entry)
        if path.exists():
            return path
        try:
            snippet = self.target.repro(entry.case)
        except Exception as exc:  # describing a case must never stop the report
            snippet = f"# cannot describe the case: {exc!r}"
        budget = "none" if entry.budget_ms is None else f"{entry.budget_ms:.1f} ms"
        header = (
            f"# target {self.name}: {entry.cpu_ms:.1f} ms of CPU (budget {budget}), "
            f"outcome {entry.outcome}\n# shape: {entry.shape}\n"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((header + snippet)[:SLOW_REPRO_LIMIT] + "\n")
        return path

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


_COSTLY: Final[dict[str, list[_Costly[Any]]]] = {}  # per target: its slowest inputs, a heap
_MEASURED: Final = itertools.count(1)


def _costly_path(target: str, entry: _Costly[Any]) -> Path:
    assert OUT is not None
    return OUT / "slow" / f"{target}-{os.getpid()}-{-entry.sequence}.py"


def _write_failure(target: str, signature: str, text: str) -> Path:
    """Keep the shortest reproducer of one distinct failure in ``failures/`` of the output
    directory (``build/fuzz`` when none is set); a slow input's is never cut short."""
    digest = hashlib.sha256(signature.encode()).hexdigest()[:10]
    path = (OUT or ROOT / "build" / "fuzz") / "failures" / f"{target}-{digest}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = SLOW_REPRO_LIMIT if signature.startswith(f"{target}|slow|") else REPRO_LIMIT
    text = text[:limit] + "\n"
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
