"""The Playlists page lists its tracks in playlist order, whatever order the links were
written in, and keeps the pages a person linked to it by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundcloud_sync import api
from soundcloud_sync.notion import NotionError
from soundcloud_sync.notion.relations import playlist_order
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows

RELATION_READ = ("GET", "/v1/pages/{id}/properties/{property_id}")


def test_order_puts_the_playlist_first_and_keeps_hand_linked_pages() -> None:
    current = ["c", "hand-1", "a", "b", "hand-2"]
    assert playlist_order(current, ["a", "b", "c"]) == ["a", "b", "c", "hand-1", "hand-2"]
    # pages the relation does not hold are not added; a page listed twice counts once
    assert playlist_order(["b", "a"], ["a", "x", "a", "b"]) == ["a", "b"]
    assert playlist_order([], ["a"]) == []
    assert playlist_order(["a", "b"], ["a", "b"]) == ["a", "b"]


def page_of(notion: NotionEmulator, catalog: SeededCatalog) -> dict[str, str]:
    """Title -> page id in Music Tracks."""
    return {
        notion.plain(pid)["Title"]: pid for pid in notion.pages_in(catalog.tracks_data_source_id)
    }


def test_playlist_page_follows_the_playlist_and_keeps_a_hand_linked_page(
    in_process_env: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc = soundcloud_emulator
    a, b, c, d = (sc.add_track("label-o", title) for title in ("Alba", "Brume", "Cirrus", "Dune"))
    playlist = sc.add_playlist("label-o", "in-order", tracks=[c, a])
    first = api.sync_playlist_to_notion(playlist.url)
    assert first["tracks_added"] == 2
    [pl_page] = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    pages = page_of(notion_emulator, notion_catalog)
    assert notion_emulator.plain(pl_page)["Tracks"] == [pages["Cirrus"], pages["Alba"]]
    # the user links a page of their own to the playlist, by hand
    hand = notion_emulator.add_page(
        notion_catalog.tracks_data_source_id, {"Title": "Bootleg", "Playlists": [pl_page]}
    )
    # the owner puts the set in a new order and adds two tracks: B and D are linked now,
    # each appended at the end of the page's Tracks, in whatever order the writes finish
    playlist.track_ids[:] = [a.id, b.id, c.id, d.id]
    sc.touch(playlist)

    notion_emulator.reset_counts()
    plan = api.sync_playlist_to_notion(playlist.url, dry_run=True)
    assert "Playlists: would put 'Tracks' in playlist order" in plan["warnings"]
    assert notion_emulator.writes == 0
    assert notion_emulator.plain(pl_page)["Tracks"] == [pages["Cirrus"], pages["Alba"], hand]

    second = api.sync_playlist_to_notion(playlist.url)
    assert (second["tracks_added"], second["errors"]) == (2, 0)
    pages = page_of(notion_emulator, notion_catalog)
    in_order = [pages[t] for t in ("Alba", "Brume", "Cirrus", "Dune")]
    assert notion_emulator.plain(pl_page)["Tracks"] == [*in_order, hand]
    for pid in in_order:  # the track side is untouched by the reorder
        assert notion_emulator.plain(pid)["Playlists"] == [pl_page]

    # nothing changed: no read of the relation, no extra write
    notion_emulator.reset_counts()
    again = api.sync_playlist_to_notion(playlist.url)
    assert (again["tracks_added"], again["tracks_updated"]) == (0, 0)
    assert notion_emulator.total_requests <= 3 and notion_emulator.writes <= 1
    assert notion_emulator.count(*RELATION_READ) == 0
    assert notion_emulator.plain(pl_page)["Tracks"] == [*in_order, hand]

    # a track leaves: its link goes, the order and the hand-linked page stay
    sc.remove_track(playlist, c.id)
    api.sync_playlist_to_notion(playlist.url)
    kept = [pages[t] for t in ("Alba", "Brume", "Dune")]
    assert notion_emulator.plain(pl_page)["Tracks"] == [*kept, hand]


def test_over_100_pages_the_order_is_left_as_notion_keeps_it(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, make_notion_sync
) -> None:
    rows = make_track_rows(101)
    playlist = make_playlist(track_count=101)
    first = make_notion_sync().upsert_playlist(playlist, rows[:60][::-1])
    pl_page = first.playlist_page_id
    assert not any("'Tracks'" in w for w in first.warnings)
    reversed_60 = [first.tracks[i].page_id for i in range(60)]
    assert notion_emulator.plain(pl_page)["Tracks"] == reversed_60
    notion_emulator.add_page(
        notion_catalog.tracks_data_source_id, {"Title": "Bootleg", "Playlists": [pl_page]}
    )
    line = (
        f"Playlists: 'Tracks' of page {pl_page} left in the order Notion keeps: "
        "it holds over 100 pages, and Notion takes at most 100 in one write"
    )

    # 100 of the playlist's pages and the hand-linked one: read, found too long, left
    report = make_notion_sync().upsert_playlist(playlist, rows[:100], playlist_page_id=pl_page)
    assert report.created == 40 and report.errors == 0
    tracks = notion_emulator.plain(pl_page)["Tracks"]
    assert len(tracks) == 101 and tracks[:60] == reversed_60
    assert [w for w in report.warnings if "'Tracks'" in w] == [line]

    # 101 pages of its own: too long before any read
    notion_emulator.reset_counts()
    report = make_notion_sync().upsert_playlist(playlist, rows, playlist_page_id=pl_page)
    assert report.created == 1 and [w for w in report.warnings if "'Tracks'" in w] == [line]
    assert notion_emulator.count(*RELATION_READ) == 0
    tracks = notion_emulator.plain(pl_page)["Tracks"]
    assert len(tracks) == 102 and tracks[:60] == reversed_60


def test_a_failed_read_of_the_order_does_not_fail_the_sync(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, make_notion_sync
) -> None:
    sync = make_notion_sync()
    sync.gateway.max_attempts = 2
    notion_emulator.script(*RELATION_READ, "500", times=2)
    report = sync.upsert_playlist(make_playlist(track_count=3), make_track_rows(3))
    assert (report.created, report.errors, report.sync_status) == (3, 0, "Synced")
    [warning] = [w for w in report.warnings if "'Tracks'" in w]
    assert warning.startswith("Playlists: 'Tracks' not put in order:")


def test_playlists_without_tracks_property_are_left_alone(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, make_notion_sync
) -> None:
    rows = make_track_rows(3)
    sync = make_notion_sync(mapping={"playlists": {"tracks": None}})
    report = sync.upsert_playlist(make_playlist(track_count=3), rows[::-1])
    assert report.created == 3
    assert notion_emulator.count(*RELATION_READ) == 0


def test_a_run_stopped_before_its_page_update_leaves_the_order_to_the_next(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, make_notion_sync
) -> None:
    rows = make_track_rows(6)
    playlist = make_playlist(track_count=6)
    crashing = make_notion_sync()
    crashing.gateway.max_attempts = 1
    # every page is created and linked, then the playlist page's update never lands
    notion_emulator.script("PATCH", "/v1/pages/{id}", "500", times=2)
    with pytest.raises(NotionError):
        crashing.upsert_playlist(playlist, rows)
    [pl_page] = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    pages = page_of(notion_emulator, notion_catalog)
    assert sorted(notion_emulator.plain(pl_page)["Tracks"]) == sorted(pages.values())

    # the owner reverses the set meanwhile: the next run links nothing, yet puts it right
    reordered = rows[::-1]
    report = make_notion_sync().upsert_playlist(playlist, reordered, playlist_page_id=pl_page)
    assert report.created == 0 and report.errors == 0
    assert notion_emulator.plain(pl_page)["Tracks"] == [pages[r["title"]] for r in reordered]

    # and the run after it, with nothing to do, reads nothing more
    notion_emulator.reset_counts()
    make_notion_sync().upsert_playlist(playlist, reordered, playlist_page_id=pl_page)
    assert notion_emulator.count(*RELATION_READ) == 0
