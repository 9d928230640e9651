"""pytest fixtures for whole-pipeline tests (registered in conftest.py).

* ``emulated_services_env``: the settings a user would export, pointing at the
  SoundCloud and Notion emulators and a fresh home.
* ``cli_env``: that plus the rest of this process's environment: a shell for
  ``run_cli`` (a ``soundcloud-sync`` process) and ``cli_in_process`` (the same command
  in this process).
* ``in_process_env``: the same settings exported into this process (monkeypatched), for
  the Python API.
* ``postgres`` (session): one throw-away PostgreSQL server per worker; each test creates
  a database of its own on it. Tests using it share the xdist group ``scale``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator
from soundcloud_sync_tests.servers import PostgresServer, ServerUnavailable, postgres_server


def services_env(
    folder: Path, soundcloud: SoundCloudEmulator, notion: NotionEmulator, catalog: SeededCatalog
) -> dict[str, str]:
    """The settings a user would export, pointing at these emulators, home in `folder`."""
    return {
        "SOUNDCLOUD_SYNC_HOME": str(folder / "home"),
        "SOUNDCLOUD_SYNC_PLAYLISTS_FILE": str(folder / "playlists.yaml"),
        "SOUNDCLOUD_API_BASE": PROXY_API_BASE,
        "SOUNDCLOUD_PROXY": soundcloud.proxy_url,
        "SOUNDCLOUD_CLIENT_ID": soundcloud.client_id,
        "NOTION_TOKEN": notion.token,
        "NOTION_BASE_URL": notion.base_url,
        "NOTION_TRACKS_DATABASE_ID": catalog.tracks_database_id,
        "NOTION_PLAYLISTS_DATABASE_ID": catalog.playlists_database_id,
        "NOTION_REQUESTS_PER_SECOND": "200",
        # Runs measure in their own process, which in a test worker has librosa loaded
        # already: a machine's analysis process (audio.service) per test home would cost
        # its start-up again and linger. test_analysis_service turns it on.
        "SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS": "0",
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """initdb and a server start cost seconds: once per worker, not once per test. Its
    tests skip where PostgreSQL is not installed (`.ci/run` installs it)."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except ServerUnavailable as exc:
            pytest.skip(f"no PostgreSQL here: {exc}")
        yield server


@pytest.fixture
def emulated_services_env(
    tmp_path: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> dict[str, str]:
    """The settings a user would export, pointing at the emulators and a fresh home."""
    return services_env(tmp_path, soundcloud_emulator, notion_emulator, notion_catalog)


CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def cli_env(emulated_services_env: dict[str, str]) -> dict[str, str]:
    """A user's shell for the `soundcloud-sync` program: their environment, less any real
    credentials or library settings of their own, plus the emulators."""
    own = ("NOTION_", "SOUNDCLOUD_", "SPOTIFY_", "DJAY_", "DJ_EXPORT_PATH_MAP", "DAGSTER_HOME")
    base = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {**base, **emulated_services_env}


@pytest.fixture
def in_process_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulated_services_env: dict[str, str]
) -> Path:
    """The same shell for the Python API and in-process CLI calls; returns the folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name, value in emulated_services_env.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`soundcloud-sync ARGS` as a program, started beside the home folder."""
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=env["SOUNDCLOUD_SYNC_HOME"].rsplit("/", 1)[0],
    )  # fmt: skip


def cli_in_process(
    env: Mapping[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`soundcloud-sync ARGS` as `run_cli` runs it, but in this process: the same command,
    environment, folder, exit code and output, without the seconds a new process spends
    importing Dagster. For tests where the process boundary is not what is tested.

    An exception the CLI lets through fails the test with its traceback, where a program
    would print it and exit 1."""
    from click.testing import CliRunner

    from soundcloud_sync.cli import main

    folder = cwd or Path(env["SOUNDCLOUD_SYNC_HOME"]).parent
    with _environment(env, folder):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(
        ["soundcloud-sync", *args], result.exit_code, result.stdout, result.stderr
    )


@contextmanager
def _environment(env: Mapping[str, str], folder: Path) -> Iterator[None]:
    """This process with exactly `env` as its environment and `folder` as its working
    directory, both put back afterwards (the CLI reads `.env` into the environment)."""
    saved, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
