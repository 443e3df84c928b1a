"""Print what a fuzzing run did: inputs and outcomes per target, the slowest input of each
target in CPU time, every distinct failure and every input over its CPU budget.

Usage: ``python tests/fuzz/summary.py [build/fuzz]``. Reads the ``counts-<pid>.jsonl``
files the harness appends to (one line per target and chunk, from every process of the
run). Exits 1 when any failure or any input over its CPU budget was counted, else 0.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def load(directory: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted(directory.glob("counts-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                lines.append(json.loads(line))
    return lines


def main(argv: list[str]) -> int:
    directory = Path(argv[1] if len(argv) > 1 else "build/fuzz")
    lines = load(directory)
    if not lines:
        print(f"no counters in {directory}")
        return 1
    inputs: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    slowest: dict[str, float] = defaultdict(float)
    planned: dict[str, int] = {}
    stopped: dict[str, str] = {}
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    failures: dict[str, dict[str, Any]] = {}
    costly: dict[str, list[dict[str, Any]]] = defaultdict(list)  # the slowest inputs in CPU
    slow: Counter[str] = Counter()  # inputs over the CPU budget
    budgets: dict[str, float | None] = {}
    latest: dict[tuple[str, int], list[dict[str, Any]]] = {}
    profiles = {line["profile"] for line in lines}
    for line in lines:
        target = line["target"]
        inputs[target] += line["inputs"]
        wall[target] += line["wall_seconds"]
        slowest[target] = max(slowest[target], line["slowest_call"])
        planned[target] = line.get("planned", 0)
        if line.get("stopped"):
            stopped[target] = line["stopped"]
        outcomes[target].update(line["outcomes"])
        # each line lists its process's slowest inputs so far: the last line of a process
        # has them all
        latest[(target, line["pid"])] = line.get("slowest", [])
        slow[target] += line.get("slow_inputs", 0)
        budgets[target] = line.get("cpu_budget_ms")
        for failure in line["failures"]:
            known = failures.setdefault(failure["signature"], {**failure, "count": 0})
            known["count"] += failure["count"]
    for (target, _pid), entries in latest.items():
        costly[target].extend(entries)
    print(f"fuzzing run ({', '.join(sorted(profiles))} profile), {len(inputs)} targets\n")
    print(
        f"{'target':24}{'inputs':>10}{'seconds':>10}{'inputs/s':>10}{'slowest s':>11}"
        f"{'CPU ms':>9}{'budget':>8}  outcome of the slowest in CPU"
    )
    print(f"{'':14}{'inputs':>10}  outcome")
    for target in sorted(inputs):
        rate = inputs[target] / wall[target] if wall[target] else 0.0
        costly[target].sort(key=lambda entry: -entry["cpu_ms"])
        top = costly[target][0] if costly[target] else None
        budget = budgets.get(target)
        print(
            f"{target:24}{inputs[target]:>10,}{wall[target]:>10.0f}{rate:>10.0f}"
            f"{slowest[target]:>11.3f}"
            + (f"{top['cpu_ms']:>9.1f}" if top else f"{'-':>9}")
            + (f"{budget:>8g}" if budget is not None else f"{'none':>8}")
            + (f"  {top['outcome']}{'  OVER BUDGET' if slow[target] else ''}" if top else "")
            + (
                f"  (of {planned[target]:,} planned; stopped after {stopped[target]})"
                if target in stopped
                else ""
            )
        )
        for outcome, count in outcomes[target].most_common():
            print(f"{'':14}{count:>10,}  {outcome}")
    total = sum(inputs.values())
    print(f"\n{'total':24}{total:>10,}{sum(wall.values()):>10.0f}  (seconds summed over processes)")
    failed = sum(count for c in outcomes.values() for o, count in c.items() if o.startswith("FAIL"))
    if any(slow.values()):
        print(f"\n{sum(slow.values()):,} inputs over their CPU budget (least of the re-runs):")
        for target in sorted(t for t in slow if slow[t]):
            over = f"{slow[target]:,} inputs over {budgets[target]:g} ms"
            print(f"\n  {target}: {over}; the slowest:")
            for entry in costly[target]:
                # the kept slowest inputs over the budget: slow ones, and failures (overruns)
                limit = entry.get("budget_ms")
                if entry["cpu_ms"] > (budgets[target] if limit is None else limit):
                    print(f"    {entry['cpu_ms']:9.1f} ms  {entry['outcome']}  {entry['shape']}")
                    if entry.get("file"):
                        print(f"{'':17}reproducer: {entry['file']}")
    else:
        print("\nno input over its CPU budget")
    if failures:
        print(f"\n{failed:,} failing inputs, {len(failures)} distinct failures:")
        for failure in sorted(failures.values(), key=lambda f: f["signature"]):
            print(f"\n  {failure['signature']}  ({failure['count']:,} inputs)")
            print(f"    {failure['message'][:300]}")
            print(f"    reproducer: {failure['file']}")
    else:
        print("\nno failures")
    return 1 if failed or any(slow.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
