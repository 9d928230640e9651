"""pytest fixtures for whole-pipeline tests (registered in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator


@pytest.fixture
def emulated_services_env(
    tmp_path: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> dict[str, str]:
    """The settings a user would export, pointing at the emulators and a fresh home."""
    return {
        "SOUNDCLOUD_SYNC_HOME": str(tmp_path / "home"),
        "SOUNDCLOUD_SYNC_PLAYLISTS_FILE": str(tmp_path / "playlists.yaml"),
        "SOUNDCLOUD_API_BASE": PROXY_API_BASE,
        "SOUNDCLOUD_PROXY": soundcloud_emulator.proxy_url,
        "SOUNDCLOUD_CLIENT_ID": soundcloud_emulator.client_id,
        "NOTION_TOKEN": notion_emulator.token,
        "NOTION_BASE_URL": notion_emulator.base_url,
        "NOTION_TRACKS_DATABASE_ID": notion_catalog.tracks_database_id,
        "NOTION_PLAYLISTS_DATABASE_ID": notion_catalog.playlists_database_id,
        "NOTION_REQUESTS_PER_SECOND": "200",
    }


CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def cli_env(emulated_services_env: dict[str, str]) -> dict[str, str]:
    """A user's shell for the `soundcloud-sync` program: their environment, less any real
    credentials, plus the emulators."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOTION_", "SOUNDCLOUD_", "SPOTIFY_")) and k != "DAGSTER_HOME"
    }
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
