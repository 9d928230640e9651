"""The seed's integration sizes: a medium (50) and a large (200) playlist through the
command line, without audio. (10 tracks: most tests; 500: `test_notion_crash.py`.)

The sizes are tested, not the program's process: the commands run in this process
(`cli_in_process`)."""

from __future__ import annotations

import json

import pytest

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog, track_pages
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process


@pytest.mark.parametrize("size", [50, 200])
def test_a_playlist_of_this_size_gets_every_page_once_and_resyncs_for_free(
    size: int,
    cli_env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("sizes", f"set-of-{size}", size, kinds={7: "gone"})
    soundcloud_emulator.reset_counts()

    first = cli_in_process(cli_env, "sync", playlist.url, "--no-download", "--json")
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout)
    assert (stats["total_tracks"], stats["tracks_added"], stats["errors"]) == (size, size - 1, 0)
    assert stats["unreadable"] == 1  # the deleted track: no untitled page
    # one resolve and a batch lookup per 50 stubs (the first five come whole)
    assert soundcloud_emulator.api_requests == 1 + -(-(size - 5) // 50)

    pages = track_pages(notion_emulator, notion_catalog)
    ids = [p["SoundCloud ID"] for p in pages]
    assert sorted(ids) == sorted(i for n, i in enumerate(playlist.track_ids, 1) if n != 7)
    [playlist_page] = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    assert all(p["Playlists"] == [playlist_page] for p in pages)
    assert sorted(stats["track_ids"]) == sorted(notion_emulator.pages_in(
        notion_catalog.tracks_data_source_id))  # fmt: skip

    notion_emulator.reset_counts()
    again = cli_in_process(cli_env, "sync", playlist.url, "--no-download", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["tracks_skipped"] == size - 1
    assert notion_emulator.total_requests <= 3 and notion_emulator.writes <= 1

    audit = cli_in_process(cli_env, "audit", playlist.url)
    assert audit.returncode == 0, audit.stdout + audit.stderr
