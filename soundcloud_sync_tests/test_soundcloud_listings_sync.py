"""A user's likes, a user's uploads and tracks added by hand, synced as a user runs it:
the CLI and the Python API against the SoundCloud and Notion emulators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from soundcloud_sync import api
from soundcloud_sync.cli import main
from soundcloud_sync.errors import SoundCloudSyncError
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    track_pages_by_title,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process


def playlist_pages(notion: NotionEmulator, catalog: SeededCatalog) -> dict[str, tuple[str, dict]]:
    return {
        page["Name"]: (pid, page)
        for pid in notion.pages_in(catalog.playlists_data_source_id)
        for page in [notion.plain(pid)]
    }


def test_likes_through_the_cli_a_like_taken_back_is_an_unlink(
    cli_env: dict[str, str],
    in_process_env: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc = soundcloud_emulator
    liked = [sc.add_track(f"artist-{i}", f"Liked {i}") for i in range(3)]
    for track in liked:
        sc.like("dj-kay", track)
    sc.like("dj-kay", sc.add_playlist("label-a", "summer", 1))

    pasted = "https://soundcloud.com/DJ-Kay/likes?utm_source=x"
    first = cli_in_process(cli_env, "sync", pasted, "--no-download", "--json")  # no process needed
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout)
    assert (stats["playlist_url"], stats["playlist_name"]) == (
        "https://soundcloud.com/dj-kay/likes", "Dj Kay — Likes",
    )  # fmt: skip
    assert (stats["total_tracks"], stats["tracks_added"], stats["errors"]) == (3, 3, 0)
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    likes_page_id, likes_page = playlist_pages(notion_emulator, notion_catalog)["Dj Kay — Likes"]
    assert likes_page["SoundCloud URL"] == "https://soundcloud.com/dj-kay/likes"
    assert (likes_page["Curator"], likes_page["Track Count"]) == ("Dj Kay", 3)
    assert all(pages[t.title]["Playlists"] == [likes_page_id] for t in liked)
    assert "Summer" not in pages  # a liked playlist is no track: named, skipped
    [skipped] = stats["skipped_entries"]
    assert (skipped["position"], skipped["name"]) == (1, "Summer")

    sc.unlike("dj-kay", liked[0])
    newest = sc.add_track("artist-9", "Liked Later")
    sc.like("dj-kay", newest)
    second = CliRunner().invoke(main, ["sync", "dj-kay/likes", "--no-download", "--json"])
    assert second.exit_code == 0, second.stderr
    stats = json.loads(second.stdout)
    assert (stats["total_tracks"], stats["tracks_added"], stats["tracks_unlinked"]) == (3, 1, 1)
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert len(pages) == 4  # the page of the like taken back stays, unlinked
    assert pages[liked[0].title]["Playlists"] == []
    assert pages[newest.title]["Playlists"] == [likes_page_id]

    # unchanged: one look at the newest likes (the user's id is known), no run
    sc.reset_counts()
    third = api.sync_playlist_incremental("https://soundcloud.com/dj-kay/likes")
    assert third["unchanged"] and (third["total_tracks"], third["tracks_added"]) == (3, 0)
    assert sc.api_requests == 1 and sc.counts["user_likes"] == 1
    [row] = api.status()
    assert (row["key"], row["tracks"], row["in_notion"]) == ("dj-kay/likes", 3, 3)


def test_uploads_and_singles_through_the_python_api(
    in_process_env: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc = soundcloud_emulator
    uploads = [sc.add_track("label-a", f"Upload {i}", created_at=f"2025-0{i}-01T00:00:00Z")
               for i in range(1, 3)]  # fmt: skip
    stats = api.sync_playlist_to_notion("https://soundcloud.com/label-a/tracks")
    assert (stats["playlist_name"], stats["tracks_added"]) == ("Label A — Uploads", 2)
    listed = api.extract_playlist_tracks("https://soundcloud.com/label-a/tracks")
    assert [(t["title"], t["track_number"]) for t in listed] == [("Upload 2", 1), ("Upload 1", 2)]
    assert {t["playlist_url"] for t in listed} == {"https://soundcloud.com/label-a/tracks"}

    # a single track: into label-a/singles; one of the uploads keeps its one page
    single = sc.add_track("label-a", "Single One", created_at="2020-01-01T00:00:00Z")
    meta = api.get_playlist_metadata(single.permalink_url)  # read only: nothing added
    assert (meta["key"], meta["name"], meta["track_count"]) == (
        "label-a/singles", "Label A — Singles", 1,
    )  # fmt: skip
    stats = api.sync_playlist_to_notion(single.permalink_url + "?si=abc")
    assert (stats["playlist_name"], stats["total_tracks"], stats["tracks_added"]) == (
        "Label A — Singles", 1, 1,
    )  # fmt: skip
    assert stats["playlist_url"] == "https://soundcloud.com/label-a"
    stats = api.sync_playlist_to_notion(uploads[0].permalink_url)
    assert (stats["total_tracks"], stats["tracks_added"], stats["tracks_updated"]) == (2, 0, 1)
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert len(pages) == 3
    lists = playlist_pages(notion_emulator, notion_catalog)
    singles_id, uploads_id = lists["Label A — Singles"][0], lists["Label A — Uploads"][0]
    assert sorted(pages[uploads[0].title]["Playlists"]) == sorted([singles_id, uploads_id])

    # the dry run of a third single tells what it would add and writes nothing
    third = sc.add_track("label-a", "Single Three")
    plan = api.sync_playlist_to_notion(third.permalink_url, dry_run=True)
    assert (plan["total_tracks"], plan["tracks_added"], plan["dry_run"]) == (3, 1, True)
    assert len(track_pages_by_title(notion_emulator, notion_catalog)) == 3

    # taken out by hand: unlinked at the next sync, its page stays
    assert api.unregister_playlists([single.permalink_url]) == ["label-a/singles"]
    stats = api.sync_playlist_to_notion("label-a/singles")
    assert (stats["total_tracks"], stats["tracks_unlinked"]) == (1, 1)
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert pages[single.title]["Playlists"] == [] and len(pages) == 3
    assert "label-a/singles" in api.registered_playlist_keys()


def test_bad_urls_are_one_line_naming_them(
    soundcloud_emulator: SoundCloudEmulator, in_process_env: Path
) -> None:
    """In-process CLI (the commands above run it as a program): no run is needed here."""
    soundcloud_emulator.add_user("label-a")
    profile = CliRunner().invoke(main, ["add", "https://soundcloud.com/label-a"])
    assert profile.exit_code == 1
    [line] = profile.stderr.strip().splitlines()
    assert line.startswith("error: https://soundcloud.com/label-a: a profile is not one list")

    # a track SoundCloud does not know fails its run naming it (test_cli covers that
    # run); it stays in the list until taken out
    typo = "https://soundcloud.com/label-a/no-such-track"
    added = CliRunner().invoke(main, ["add", typo + "?si=x"])
    assert added.stdout.strip() == "registered label-a/singles", added.stderr
    removed = CliRunner().invoke(main, ["remove", typo])
    assert removed.stdout.strip() == f"removed {typo} from label-a/singles"
    with pytest.raises(SoundCloudSyncError, match="not among the tracks of label-a/singles"):
        api.unregister_playlists([typo])
