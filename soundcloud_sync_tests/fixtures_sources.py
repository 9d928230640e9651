"""pytest fixtures for the SoundCloud sources (registered in conftest.py).

* ``soundcloud_emulator``: a running :class:`SoundCloudEmulator` (empty; add content
  with ``add_playlist``), stopped after the test.
* ``soundcloud_cache_dir``: a yt-dlp ``cachedir`` seeded with the emulator's client id,
  so nothing ever tries to scrape soundcloud.com.
* ``soundcloud_client``: a :class:`SoundCloudClient` on the emulator's base URL that
  takes its client id from that cache, like a user without SOUNDCLOUD_CLIENT_ID.
* ``spotify_emulator`` / ``spotify_env``: a running :class:`SpotifyEmulator` and the
  settings that point the Spotify source at it.
* ``soundcloud_settings``: :class:`Settings` pointing at the emulator, home in tmp_path
  (client id seeded where the SoundCloud resource's client looks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soundcloud_sync.config import Settings
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.emulators.spotify import SpotifyEmulator


@pytest.fixture
def soundcloud_emulator() -> Iterator[SoundCloudEmulator]:
    with SoundCloudEmulator() as emulator:
        yield emulator


@pytest.fixture
def soundcloud_cache_dir(tmp_path: Path, soundcloud_emulator: SoundCloudEmulator) -> Path:
    cache_dir = tmp_path / "yt-dlp-cache"
    soundcloud_emulator.seed_client_id_cache(cache_dir)
    return cache_dir


@pytest.fixture
def soundcloud_client(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_cache_dir: Path
) -> Iterator[SoundCloudClient]:
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url, cache_dir=soundcloud_cache_dir, max_wait=10.0
    )
    yield client
    client.close()


@pytest.fixture
def soundcloud_settings(tmp_path: Path, soundcloud_emulator: SoundCloudEmulator) -> Settings:
    settings = Settings(home=tmp_path / "home", soundcloud_api_base=soundcloud_emulator.base_url)
    soundcloud_emulator.seed_client_id_cache(settings.cache_dir / "yt-dlp")
    return settings


@pytest.fixture
def spotify_emulator() -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator() as emulator:
        yield emulator


@pytest.fixture
def spotify_env(spotify_emulator: SpotifyEmulator) -> dict[str, str]:
    """The Spotify settings a user would export, pointing at the emulator."""
    return {
        "SPOTIFY_CLIENT_ID": spotify_emulator.client_id,
        "SPOTIFY_CLIENT_SECRET": spotify_emulator.client_secret,
        "SPOTIFY_API_BASE": spotify_emulator.api_base,
        "SPOTIFY_ACCOUNTS_BASE": spotify_emulator.accounts_base,
    }
