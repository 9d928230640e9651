"""Shared test set-up. Each room keeps its fixtures in its own plugin module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# librosa's numba kernels: one writable cache for the whole test session.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "soundcloud-sync-numba"))

pytest_plugins = [
    "soundcloud_sync_tests.fixtures_sources",
    "soundcloud_sync_tests.fixtures_notion",
    "soundcloud_sync_tests.fixtures_audio",
    "soundcloud_sync_tests.fixtures_pipeline",
]

# The tests that take 15 s or more (`make test`'s --durations), longest first. Under
# xdist (`--dist loadgroup --no-loadscope-reorder`) the suite ends when its last test
# does: started first, each long test runs beside the many short ones instead of after
# them. A name missing here only costs time; a name that no longer exists moves nothing.
LONGEST_FIRST = (
    "test_scale_deployment.py::test_two_playlist_backfill",  # PostgreSQL + Celery
    "test_dead_runs_daemon.py::",  # one UI for the module's tests
    "test_bench_scale.py::",
    "test_bench.py::test_benchmark_runs_in_quick_mode[reanalysis.py",
    "test_dead_runs.py::test_sigkilled_syncs",
    "test_ratelimit.py::test_soundcloud_processes_share_the_api_budget",
    "test_bench.py::test_benchmark_runs_in_quick_mode[resync.py",
    "test_bench.py::test_benchmark_runs_in_quick_mode[run_cost.py",
    "test_bench.py::test_benchmark_runs_in_quick_mode[download_requests.py",
    "test_bench.py::test_benchmark_runs_in_quick_mode[scale.py backfill",
    "test_ui_secrets.py::",
    "test_disk_full.py::test_a_full_library",
    "test_cli.py::test_status_shows_each_playlists_latest_run",
    "test_dead_runs.py::test_a_step_waiting_for_a_busy_pool",
    "test_djay_sync.py::",
    "test_cli.py::test_sync_creates_then_skips",
    "test_dev_ui.py::test_dev_serves",
)


def _rank(item: pytest.Item) -> int:
    name = item.nodeid.rsplit("/", 1)[-1]
    for rank, prefix in enumerate(LONGEST_FIRST):
        if name.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the others keep their order


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """xdist's `--dist loadgroup` keeps a group on one worker by a ``@group`` suffix it
    writes into each node id while collecting; pytest 9.2 ignores that write
    (pytest-dev/pytest-xdist#1386), and the groups are silently split, each worker
    starting its own copy of a shared world. The grouped tests then fail, saying so."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    grouped = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group")]
    lost = [nodeid for nodeid in grouped if not nodeid.rfind("@") > nodeid.rfind("]")]
    if lost:
        session.config.stash[_UNGROUPED] = (
            f"--dist loadgroup left {len(lost)} grouped tests ungrouped: this pytest and "
            "pytest-xdist do not work together (pyproject.toml pins pytest below 9.2)"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("xdist_group") and _UNGROUPED in item.config.stash:
        pytest.fail(item.config.stash[_UNGROUPED])
