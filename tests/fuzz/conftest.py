"""The fuzzing harness (see harness.py for the profiles and the invariant)."""

from __future__ import annotations

import resource

import pytest

from fuzz import harness


def pytest_configure(config: pytest.Config) -> None:
    if harness.COLLECT:
        # The long runs are processes of their own: cap their memory, so that an input
        # that makes the code under test allocate without bound fails with MemoryError
        # instead of pushing the machine into swap.
        limit = 8 * 1024**3
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        harness.suspend_capture = lambda: capture.suspend_global_capture(in_=False)


def pytest_report_header(config: pytest.Config) -> str:
    total = sum(harness.examples(name) for name in harness.BUDGETS)
    return (
        f"fuzz profile: {harness.PROFILE} ({total:,} cases over "
        f"{len(harness.BUDGETS)} targets), {harness.DEADLINE:g} s per input, "
        f"{harness.CPU_BUDGET_MS:g} ms of CPU per unauthenticated input"
    )
