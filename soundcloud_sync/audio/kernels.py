"""librosa's compiled kernels, loaded from numba's on-disk cache in every process.

librosa marks some of its numba kernels ``cache=False`` (the beat tracker's local score,
`librosa.beat`), so every process that imports `librosa.beat` compiled them again:
2.7 CPU-seconds per process measured, against 1.1 with them cached
(`python bench/run_cost.py` counts it once per run). Importing librosa's beat module
with numba's ``guvectorize`` asking for the cache makes the first process compile and
store them, and the others load them.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def import_librosa_beat() -> None:
    """Import `librosa.beat` with its ``guvectorize`` kernels cached on disk.

    Call after NUMBA_CACHE_DIR is set (`analysis.configure_numba_cache`). A process that
    imported it already keeps what it has.
    """
    with _lock:
        if "librosa.beat" in sys.modules:
            return
        import numba

        original = numba.guvectorize

        def cached(*args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs["cache"] = True
            return original(*args, **kwargs)

        numba.guvectorize = cached
        try:
            import librosa.beat  # noqa: F401
        finally:
            numba.guvectorize = original
