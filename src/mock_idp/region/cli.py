"""``python -m mock_idp.region``: write a synthetic regional directory as an import CSV."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_idp.region.directory import generate_directory


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``--accounts`` accounts made from ``--seed`` to the CSV file ``--out``."""
    parser = argparse.ArgumentParser(
        prog="python -m mock_idp.region",
        description="Write a synthetic regional directory of school accounts as an import CSV "
        "(the same seed gives the same file).",
    )
    parser.add_argument("--accounts", type=_positive, default=10_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible directory, not a secret
    directory = generate_directory(rng, args.accounts, args.out)
    duplicated = sum(1 for p in directory.people if len(p.accounts) > 1)
    sys.stdout.write(
        f"{args.out}: {directory.accounts} accounts of {len(directory.people)} people "
        f"({duplicated} with 2-3 accounts) in {directory.schools} schools, seed {args.seed}\n"
    )
    return 0
