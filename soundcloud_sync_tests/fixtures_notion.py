"""pytest fixtures for the Notion package (registered in conftest.py).

The emulator runs fast here (500 requests/s); tests of the rate itself set their own.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soundcloud_sync.notion import NotionCatalogSync, NotionGateway, SharedRateLimiter
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog, seed_music_catalog

FAST_RATE = 500.0


def make_track_rows(n: int, start_id: int = 100_000, prefix: str = "Track") -> list[dict[str, Any]]:
    """Rows shaped like ``sources.models.Track.to_row()``, keyed by ``recording_id``."""
    rows = []
    for i in range(n):
        sid = start_id + i
        rows.append(
            {
                "recording_id": sid,  # the catalog's id: SoundCloud's, for its tracks
                "soundcloud_id": sid,
                "position": i + 1,
                "title": f"{prefix} {sid}",
                "artist": f"Artist {sid % 37}",
                "uploader": f"uploader{sid % 37}",
                "url": f"https://soundcloud.com/artist-{sid % 37}/track-{sid}",
                "duration_ms": 180_000 + i,
                "genre": ["House", "Techno", "Drum & Bass", "Ambient"][i % 4],
                "tags": ["deep", "night"],
                "isrc": f"GBABC{sid:07d}",
                "album": None,
                "artwork_url": f"https://i1.sndcdn.com/artworks-{sid}-t500x500.jpg",
                "created_at": "2024-05-01T10:00:00Z",
                "last_modified": "2024-05-02T10:00:00Z",
                "policy": "ALLOW",
                "monetization_model": "NOT_APPLICABLE",
                "downloadable": False,
                "availability": "ok",
            }
        )
    return rows


def make_playlist(
    key: str = "dj-night/sets/summer-2026", track_count: int = 0, ids_complete: bool = True
) -> dict[str, Any]:
    """A dict shaped like ``sources.models.Playlist.metadata()``."""
    user, _, slug = key.split("/")
    return {
        "soundcloud_id": zlib.crc32(key.encode()) % 10_000_000,
        "key": key,
        "url": f"https://soundcloud.com/{key}",
        "name": slug.replace("-", " ").title(),
        "description": None,
        "curator": user,
        "curator_url": f"https://soundcloud.com/{user}",
        "artwork_url": None,
        "track_count": track_count,
        "tracks_listed": track_count,
        "ids_complete": ids_complete,
        "created_at": None,
        "last_modified": None,
        "set_type": "playlist",
    }


@pytest.fixture
def notion_emulator() -> Iterator[NotionEmulator]:
    with NotionEmulator(rate=FAST_RATE, burst=50) as emulator:
        yield emulator


@pytest.fixture
def notion_catalog(notion_emulator: NotionEmulator) -> SeededCatalog:
    return seed_music_catalog(notion_emulator)


@pytest.fixture
def notion_state(tmp_path: Path) -> Path:
    path = tmp_path / "sync_home"
    path.mkdir()
    return path


@pytest.fixture
def make_notion_sync(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, notion_state: Path
) -> Callable[..., NotionCatalogSync]:
    """Build a NotionCatalogSync against the emulator (fresh instance per call)."""

    def make(
        catalog: SeededCatalog | None = None,
        *,
        mapping: dict[str, Any] | None = None,
        token: str | None = None,
        rate: float = FAST_RATE,
        state_dir: Path | None = None,
        timeout_s: float = 30.0,
    ) -> NotionCatalogSync:
        catalog = catalog or notion_catalog
        state = state_dir or notion_state
        gateway = NotionGateway(
            token or notion_emulator.token,
            base_url=notion_emulator.base_url,
            state_dir=state,
            limiter=SharedRateLimiter(rate, state, burst=10),
            timeout_s=timeout_s,
        )
        return NotionCatalogSync(
            gateway,
            tracks_database_id=catalog.tracks_database_id,
            playlists_database_id=catalog.playlists_database_id,
            mapping=mapping,
        )

    return make
