"""What is installed: the wheel holds the package only, and Dagster is the minor version
the private storage subclasses were written for."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import dagster
from dagster._core.storage import sqlite_storage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from soundcloud_sync.instance import storage
from soundcloud_sync.instance.storage import WRITTEN_FOR_DAGSTER, PatientSqliteStorage

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_the_package_and_its_data_only(tmp_path: Path) -> None:
    # built from a copy: setuptools leaves its build/ folder beside the sources
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("soundcloud_sync", "soundcloud_sync_tests"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
         str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("soundcloud_sync-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"soundcloud_sync", wheel.name.split("-py3")[0] + ".dist-info"}, top
    assert not [n for n in names if "soundcloud_sync_tests" in n or "/emulators/" in n]
    # what the package reads at run time is in it
    assert "soundcloud_sync/dagster_instance.yaml" in names
    assert "soundcloud_sync/instance/storage.py" in names
    assert "soundcloud_sync/steps/notion.py" in names


def test_dagster_is_the_minor_version_the_storage_subclasses_were_written_for() -> None:
    installed = ".".join(dagster.__version__.split(".")[:2])
    assert installed == WRITTEN_FOR_DAGSTER, (
        f"dagster {dagster.__version__} is installed, but soundcloud_sync.instance.storage "
        f"subclasses Dagster's private storage classes as of {WRITTEN_FOR_DAGSTER}: check "
        "them against this release, then move WRITTEN_FOR_DAGSTER and the pin in "
        "pyproject.toml together"
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    major, minor = (int(p) for p in WRITTEN_FOR_DAGSTER.split("."))
    pins = {
        re.split(r"[<>=]", spec, maxsplit=1)[0]: spec
        for spec in pyproject["project"]["dependencies"]
        if spec.startswith("dagster")
    }
    for name in ("dagster", "dagster-webserver"):
        assert pins[name] == f"{name}>={major}.{minor},<{major}.{minor + 1}", pins[name]


def test_the_private_hooks_the_storage_relies_on_are_there() -> None:
    """What `PatientSqliteStorage` uses of Dagster's private classes, as of 1.13."""
    claim = inspect.signature(SqliteEventLogStorage.claim_concurrency_slot)
    assert list(claim.parameters) == ["self", "concurrency_key", "run_id", "step_key", "priority"]
    for helper in ("_runs_directory", "_event_logs_directory", "_schedule_directory"):
        assert callable(getattr(sqlite_storage, helper))
    assert issubclass(PatientSqliteStorage, sqlite_storage.DagsterSqliteStorage)
    assert storage.PatientSqliteEventLogStorage.claim_concurrency_slot is (
        storage.PatientClaims.claim_concurrency_slot
    )


def _takes(function: Any, *names: str) -> None:
    """``function`` still takes these parameters (by these names: threads.py passes them
    by keyword or in this order)."""
    parameters = list(inspect.signature(function).parameters)
    assert set(names) <= set(parameters), f"{function}: {parameters}, wants {names}"


def test_the_private_hooks_the_threaded_executor_relies_on_are_there() -> None:
    """What `instance/threads.py` (the run's steps in threads) drives of Dagster's private
    execution machinery, as of 1.13: its imports resolve (importing the module is the
    check), and the calls it makes still fit the signatures."""
    from dagster._core.execution.plan.active import ActiveExecution
    from dagster._core.storage.compute_log_manager import ComputeLogManager

    from soundcloud_sync.instance import threads

    _takes(threads.ExecuteRunWithPlanIterable, "execution_plan", "iterator",
           "execution_context_manager")  # fmt: skip
    _takes(threads.PlanExecutionContextManager, "job", "retry_mode", "execution_plan",
           "run_config", "dagster_run", "instance", "raise_on_error", "output_capture")  # fmt: skip
    _takes(threads.ExecutionPlan.start, "retry_mode", "max_concurrent",
           "instance_concurrency_context")  # fmt: skip
    _takes(threads.InstanceConcurrencyContext, "instance", "dagster_run")
    _takes(threads.PlanExecutionContext.for_step, "step", "known_state")
    _takes(threads.dagster_event_sequence_for_step, "step_context")
    _takes(threads.EngineEventData.in_process, "pid", "step_keys_to_execute")
    _takes(threads.EngineEventData.interrupted, "steps_interrupted")
    _takes(dagster.DagsterEvent.capture_logs, "job_context", "step_keys", "log_key",
           "log_context")  # fmt: skip
    _takes(ComputeLogManager.build_log_key_for_run, "run_id", "step_key")
    _takes(ComputeLogManager.capture_logs, "log_key")
    _takes(ActiveExecution.get_steps_to_execute, "limit")
    _takes(ActiveExecution.verify_complete, "job_context", "step_key")
    _takes(ActiveExecution.handle_event, "dagster_event")
    _takes(ActiveExecution.concurrency_event_iterator, "plan_context")
    _takes(ActiveExecution.plan_events_iterator, "job_context")
    for method in ("check_for_interrupts", "mark_interrupted", "get_known_state",
                   "sleep_til_ready"):  # fmt: skip
        assert callable(getattr(ActiveExecution, method)), method
    assert isinstance(ActiveExecution.is_complete, property)
    assert issubclass(threads.ThreadedExecutor, dagster.Executor)
