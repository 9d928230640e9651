"""``python -m soundcloud_sync.audio.warmup``: compile librosa's numba kernels once.

Run before starting parallel workers (pytest-xdist, Dagster's multiprocess executor):
two processes compiling the same kernels at once can corrupt numba's on-disk cache.
"""

from __future__ import annotations

import time

from soundcloud_sync.audio.analysis import configure_numba_cache, warm_up


def main() -> int:
    cache = configure_numba_cache()
    started = time.perf_counter()
    warm_up()
    print(f"numba kernels ready in {time.perf_counter() - started:.1f}s (cache: {cache})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
