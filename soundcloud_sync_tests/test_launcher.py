"""The local run launcher: runs forked from a process that imported their code once.

Driven as the daemon drives it (`DagsterInstance.launch_run` on an instance whose
dagster.yaml names the launcher), on a small code location written to a temporary
folder, so a test can change its code between runs.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher import WorkerStatus

from soundcloud_sync.instance.launcher import (
    FORKED_TAG,
    PreloadedRunLauncher,
    code_module,
    leave_fork_server,
)
from soundcloud_sync.instance.workers import run_worker

CODE = """
import os
import time
from pathlib import Path

from dagster import Definitions, in_process_executor, job, op

if os.environ.get("LAUNCHER_TEST_NO_IMPORT_UNDER") == str(os.getppid()):
    raise ImportError("not in a child of that process")  # what a fork server swallows

VERSION = {version!r}
IMPORTED_BY = os.getpid()  # the process that imported this module


@op
def report(context) -> None:
    out = Path(__file__).parent / "out" / f"{{context.run_id}}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"{{VERSION}} {{IMPORTED_BY}} {{os.getpid()}} {{os.getppid()}}")
    while (Path(__file__).parent / f"hold-{{VERSION}}").exists():  # this version's runs wait
        time.sleep(0.05)


@job(executor_def=in_process_executor)
def report_job() -> None:
    report()


defs = Definitions(jobs=[report_job])
"""


@pytest.fixture
def location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A code location in its own package, importable as an installed package is (on the
    path of this process and of the processes it starts): (its folder, its module)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    package = f"launcher_code_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    write_code(tmp_path / package, "one")
    yield tmp_path / package, f"{package}.defs"


@pytest.fixture(autouse=True)
def own_fork_server() -> Iterator[None]:
    """Each test starts its own fork server (its code, its PYTHONPATH) and lets it go."""
    leave_fork_server()
    yield
    leave_fork_server()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    launcher = {"module": "soundcloud_sync.instance.launcher", "class": "PreloadedRunLauncher"}
    (tmp_path / "home").mkdir()
    with instance_for_test(
        temp_dir=str(tmp_path / "home"), overrides={"run_launcher": launcher}
    ) as instance:
        yield instance


def write_code(package: Path, version: str) -> None:
    code = package / "defs.py"
    before = code.stat().st_mtime_ns if code.exists() else 0
    code.write_text(CODE.format(version=version))
    os.utime(code, ns=(before + 10**9, before + 10**9))  # a new mtime on any file system


def create(instance: DagsterInstance, folder: Path, module: str) -> str:
    """A run of the location's job, as a sensor or the UI creates it."""
    repository = ReconstructableRepository.for_module(
        module, "defs", working_directory=str(folder.parent)
    )
    job = repository.get_reconstructable_job("report_job")
    run = instance.create_run_for_job(
        job_def=job.get_definition(), job_code_origin=job.get_python_origin()
    )
    return run.run_id


def launch(instance: DagsterInstance, folder: Path, module: str) -> str:
    """Create a run of the location's job and launch it as the daemon does."""
    run_id = create(instance, folder, module)
    instance.launch_run(run_id, workspace=None)  # type: ignore[arg-type]
    return run_id


def finished(instance: DagsterInstance, run_id: str, timeout: float = 120.0) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        if run.is_finished:
            return run.status
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.1)


def report_of(folder: Path, run_id: str) -> dict[str, str]:
    version, imported_by, pid, parent = (folder / "out" / f"{run_id}.txt").read_text().split()
    return {"version": version, "imported_by": imported_by, "pid": pid, "parent": parent}


def test_runs_fork_from_a_process_with_their_code_imported_and_never_run_stale_code(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    folder, module = location
    assert isinstance(instance.run_launcher, PreloadedRunLauncher)

    first = launch(instance, folder, module)
    assert finished(instance, first) == DagsterRunStatus.SUCCESS
    report = report_of(folder, first)
    assert report["version"] == "one"
    # imported once, by the process the run was forked from: not by the run itself
    assert report["imported_by"] == report["parent"] != report["pid"]
    run = instance.get_run_by_id(first)
    assert run is not None and run.tags[FORKED_TAG] == module
    worker = run_worker(run.tags)  # recorded at launch: a run killed on its way is reaped
    assert worker is not None and worker.pid == int(report["pid"])

    second = launch(instance, folder, module)
    assert finished(instance, second) == DagsterRunStatus.SUCCESS
    assert report_of(folder, second)["parent"] == report["parent"]  # one import, two runs

    write_code(folder, "two")
    third = launch(instance, folder, module)
    assert finished(instance, third) == DagsterRunStatus.SUCCESS
    changed = report_of(folder, third)
    assert changed["version"] == "two"  # the code as its files are now
    assert changed["parent"] != report["parent"]


def test_changed_code_never_waits_for_the_runs_of_the_old_code(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    """A `git pull` during a backfill: the next launch starts a new fork server at once;
    the run forked from the old one finishes with the code it started with."""
    folder, module = location
    (folder / "hold-one").touch()
    held = launch(instance, folder, module)
    wait_for(lambda: (folder / "out" / f"{held}.txt").exists(), "the held run's op")

    write_code(folder, "two")
    with ThreadPoolExecutor(1) as pool:  # a launch that waits for the held run fails here
        launching = pool.submit(launch, instance, folder, module)
        try:
            fresh = launching.result(timeout=60)  # a new fork server's import, not a run
        finally:
            if not launching.done():
                (folder / "hold-one").unlink()
    assert finished(instance, fresh) == DagsterRunStatus.SUCCESS
    assert report_of(folder, fresh)["version"] == "two"
    run = instance.get_run_by_id(held)
    assert run is not None and not run.is_finished  # the launch did not wait for it

    (folder / "hold-one").unlink()
    assert finished(instance, held) == DagsterRunStatus.SUCCESS
    assert report_of(folder, held)["version"] == "one"


def test_code_of_another_interpreter_goes_the_default_way(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    """A code location with an interpreter of its own may have other packages: its runs
    are never forked from this interpreter."""
    folder, module = location
    run = instance.get_run_by_id(create(instance, folder, module))
    assert run is not None and run.job_code_origin is not None
    assert code_module(run) is not None
    origin = run.job_code_origin
    elsewhere = origin._replace(
        repository_origin=origin.repository_origin._replace(executable_path="/opt/other/python")
    )
    assert code_module(run._replace(job_code_origin=elsewhere)) is None


def test_a_run_whose_fork_server_could_not_import_it_imports_it_and_says_so(
    instance: DagsterInstance, location: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's fork server ignores an ImportError in its preload: the run still works,
    at a new process's cost, and its log tells why."""
    folder, module = location
    monkeypatch.setenv("LAUNCHER_TEST_NO_IMPORT_UNDER", str(os.getpid()))  # the fork server's
    run_id = launch(instance, folder, module)
    assert finished(instance, run_id) == DagsterRunStatus.SUCCESS
    report = report_of(folder, run_id)
    assert report["imported_by"] == report["pid"]  # the run imported it, not its parent
    messages = [e.message for e in instance.all_logs(run_id)]
    assert any(f"could not import {module}" in m for m in messages), messages


def test_run_monitoring_sees_a_forked_run_whose_process_was_killed(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    """A kill -9 of a run's process: Dagster's run monitoring asks the launcher, which
    says the worker failed (the daemon then marks the run failed and frees its slots)."""
    folder, module = location
    (folder / "hold-one").touch()
    run_id = launch(instance, folder, module)
    wait_for(lambda: (folder / "out" / f"{run_id}.txt").exists(), "the run's op")
    run = instance.get_run_by_id(run_id)
    assert run is not None
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.RUNNING
    worker = run_worker(run.tags)
    assert worker is not None
    process = worker.process()
    assert process is not None
    process.kill()
    wait_for(worker.is_gone, "the killed process gone")
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED and str(worker.pid) in (health.msg or "")
    instance.report_run_failed(run, health.msg)  # what the monitoring daemon then does


def test_terminating_a_forked_run_interrupts_it(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    """The UI's Terminate (run coordinator -> launcher) on a run that is executing."""
    folder, module = location
    (folder / "hold-one").touch()
    run_id = launch(instance, folder, module)
    wait_for(lambda: (folder / "out" / f"{run_id}.txt").exists(), "the run's op")
    assert instance.run_launcher.terminate(run_id)
    assert finished(instance, run_id) == DagsterRunStatus.CANCELED
    assert not instance.run_launcher.terminate(run_id)  # over: nothing to stop


def test_a_fork_server_that_cannot_import_the_code_leaves_the_run_to_dagster(
    instance: DagsterInstance, location: tuple[Path, str]
) -> None:
    """Code that fails at import kills the fork server: the run goes the default way
    (here, with no code server to ask, that way fails and says so)."""
    folder, module = location
    run_id = create(instance, folder, module)
    (folder / "defs.py").write_text("raise RuntimeError('broken at import')\n")
    with pytest.raises(Exception, match="workspace"):
        instance.launch_run(run_id, workspace=None)  # type: ignore[arg-type]
    messages = [e.message for e in instance.all_logs(run_id)]
    assert any("Could not fork this run" in m and module in m for m in messages), messages
