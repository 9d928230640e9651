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
