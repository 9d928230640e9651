"""Shared test set-up. Each room keeps its fixtures in its own plugin module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# librosa's numba kernels: one writable cache for the whole test session.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "soundcloud-sync-numba"))

pytest_plugins = [
    "soundcloud_sync_tests.fixtures_sources",
    "soundcloud_sync_tests.fixtures_notion",
    "soundcloud_sync_tests.fixtures_audio",
    "soundcloud_sync_tests.fixtures_pipeline",
]
