"""`--quick`: a benchmark's seconds-long run, for CI.

`soundcloud_sync_tests/test_bench.py` runs every benchmark this way, so a change that
breaks one is red at once instead of when someone next wants its figures. A quick run's
figures prove that the benchmark still runs and nothing about speed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def quick_option(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, **small: Any
) -> None:
    """Add `--quick` to `parser`; given on the command line, `small` become the defaults
    (options given beside it still win)."""
    shown = " ".join(
        f"--{name.replace('_', '-')}" + ("" if value is True else f" {value}")
        for name, value in small.items()
    )
    parser.add_argument("--quick", action="store_true", help=f"a seconds-long run (CI): {shown}")
    if "--quick" in (sys.argv[1:] if argv is None else argv):
        parser.set_defaults(**small)
