"""pytest fixtures for whole-pipeline tests (registered in conftest.py)."""

from __future__ import annotations

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
