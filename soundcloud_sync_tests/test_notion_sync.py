"""The Notion upsert through the real notion-client against the Notion emulator."""

from __future__ import annotations

from typing import Any

import pytest

from soundcloud_sync.notion import KnownPage, NotionCatalogSync, SyncReport, TrackResult
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows


def run(
    sync: NotionCatalogSync, playlist: dict[str, Any], rows: list[dict[str, Any]], **kw: Any
) -> tuple[SyncReport, dict[int, TrackResult]]:
    seen: dict[int, TrackResult] = {}
    report = sync.upsert_playlist(
        playlist, rows, on_page=lambda r: seen.__setitem__(r.recording_id, r), **kw
    )
    return report, seen


def known_from(results: dict[int, TrackResult]) -> dict[int, KnownPage]:
    return {sid: KnownPage(r.page_id, r.hash, r.linked) for sid, r in results.items() if r.page_id}


def pages_by_sid(emu: NotionEmulator, catalog: SeededCatalog) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for pid in emu.pages_in(catalog.tracks_data_source_id):
        sid = emu.plain(pid)["SoundCloud ID"]
        if sid is not None:
            out.setdefault(int(sid), []).append(pid)
    return out


def test_first_sync_creates_linked_pages_and_the_playlist_page(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(30)
    playlist = make_playlist(track_count=30)
    report, seen = run(make_notion_sync(), playlist, rows)

    assert (report.created, report.updated, report.skipped, report.errors) == (30, 0, 0, 0)
    assert report.sync_status == "Synced"
    assert set(seen) == {r["soundcloud_id"] for r in rows}
    assert all(r.status == "created" and r.page_id and r.hash and r.linked for r in seen.values())
    playlists = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    assert playlists == [report.playlist_page_id]
    pl = notion_emulator.plain(report.playlist_page_id)
    assert pl["Name"] == playlist["name"] and pl["SoundCloud URL"] == playlist["url"]
    assert pl["Curator"] == "dj-night" and pl["Track Count"] == 30
    assert pl["Sync Status"] == "Synced" and pl["Last Synced"]
    assert sorted(pl["Tracks"]) == sorted(r.page_id for r in seen.values())
    page = notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)
    assert page["Title"] == rows[0]["title"] and page["Artist Name"] == rows[0]["artist"]
    assert page["SoundCloud ID"] == rows[0]["soundcloud_id"]
    assert page["SoundCloud URL"] == rows[0]["url"] and page["ISRC"] == rows[0]["isrc"]
    assert page["Genre"] == "House" and page["Artwork"] == [rows[0]["artwork_url"]]
    assert page["Playlists"] == [report.playlist_page_id] and page["Added At"]
    assert page["BPM"] is None and page["Spotify ID"] == ""  # legacy properties untouched
    stats = report.stats()
    assert stats["tracks_added"] == 30 and stats["total_tracks"] == 30
    assert stats["track_ids"][rows[0]["soundcloud_id"]] == seen[rows[0]["soundcloud_id"]].page_id


def test_resync_of_unchanged_500_tracks_costs_at_most_3_requests(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(500)
    playlist = make_playlist(track_count=500)
    first, seen = run(make_notion_sync(), playlist, rows)
    assert first.created == 500
    before = notion_emulator.plain(first.playlist_page_id)["Last Synced"]
    notion_emulator.reset_counts()

    report, _ = run(
        make_notion_sync(),
        playlist,
        rows,
        known=known_from(seen),
        playlist_page_id=first.playlist_page_id,
    )

    assert report.skipped == 500 and report.created == report.updated == 0
    assert notion_emulator.total_requests <= 3 and report.requests <= 3
    assert notion_emulator.writes == 1  # the playlist page's Last Synced / Sync Status
    assert notion_emulator.count("PATCH", "/v1/pages/{id}") == 1
    assert notion_emulator.plain(first.playlist_page_id)["Last Synced"] >= before


def test_resync_without_catalog_finds_everything_and_writes_no_track(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(120)
    playlist = make_playlist(track_count=120)
    run(make_notion_sync(), playlist, rows)
    notion_emulator.reset_counts()

    report, seen = run(make_notion_sync(), playlist, rows)

    assert report.skipped == 120 and report.created == 0 and report.updated == 0
    assert notion_emulator.count("POST", "/v1/pages") == 0
    assert notion_emulator.count("PATCH") == 1  # only the playlist page
    # bulk lookups, never one query per track
    assert notion_emulator.count("POST", "/v1/data_sources/{id}/query") <= 6
    assert all(r.linked and r.page_id for r in seen.values())  # the catalog can be rebuilt


def test_added_changed_and_removed_tracks(notion_emulator, notion_catalog, make_notion_sync):
    rows = make_track_rows(20)
    playlist = make_playlist(track_count=20)
    first, seen = run(make_notion_sync(), playlist, rows)
    removed = rows[:5]
    kept = rows[5:]
    kept[0] = {**kept[0], "title": kept[0]["title"] + " (Edit)"}
    added = make_track_rows(5, start_id=900_000)
    notion_emulator.reset_counts()

    report, seen2 = run(
        make_notion_sync(),
        playlist,
        kept + added,
        known=known_from(seen),
        playlist_page_id=first.playlist_page_id,
        removed={r["soundcloud_id"]: seen[r["soundcloud_id"]].page_id for r in removed},
    )

    assert (report.created, report.updated, report.skipped) == (5, 1, 14)
    assert sorted(u.recording_id for u in report.unlinked if u.status == "unlinked") == sorted(
        r["soundcloud_id"] for r in removed
    )
    assert report.stats()["tracks_unlinked"] == 5
    for r in removed:  # unlinked, never deleted
        page = notion_emulator.plain(seen[r["soundcloud_id"]].page_id)
        assert page["Playlists"] == [] and page["Title"] == r["title"]
    changed = notion_emulator.plain(seen[kept[0]["soundcloud_id"]].page_id)
    assert changed["Title"].endswith("(Edit)")
    assert seen2[kept[0]["soundcloud_id"]].hash != seen[kept[0]["soundcloud_id"]].hash
    tracks = notion_emulator.plain(first.playlist_page_id)["Tracks"]
    assert len(tracks) == 20
    assert len(notion_emulator.pages_in(notion_catalog.tracks_data_source_id)) == 25


def test_incomplete_id_list_never_unlinks(notion_emulator, notion_catalog, make_notion_sync):
    rows = make_track_rows(10)
    first, seen = run(make_notion_sync(), make_playlist(track_count=10), rows)
    partial = make_playlist(track_count=10, ids_complete=False)

    report, _ = run(
        make_notion_sync(),
        partial,
        rows[:7],
        known=known_from(seen),
        playlist_page_id=first.playlist_page_id,
        removed=[r["soundcloud_id"] for r in rows[7:]],
    )

    assert report.unlinked == [] and any("incomplete" in w for w in report.warnings)
    assert report.sync_status == "Partial"
    assert len(notion_emulator.plain(first.playlist_page_id)["Tracks"]) == 10
    assert notion_emulator.plain(first.playlist_page_id)["Sync Status"] == "Partial"


@pytest.mark.parametrize("with_catalog", [True, False])
def test_track_shared_by_two_playlists_keeps_both_relations(
    notion_emulator, notion_catalog, make_notion_sync, with_catalog
):
    rows = make_track_rows(10)
    a = make_playlist("dj-night/sets/a", 10)
    b = make_playlist("dj-night/sets/b", 10)
    first, seen = run(make_notion_sync(), a, rows)
    b_rows = rows[:5] + make_track_rows(5, start_id=500_000)
    known = {sid: KnownPage(k.page_id, k.hash, False) for sid, k in known_from(seen).items()}

    report, _ = run(make_notion_sync(), b, b_rows, known=known if with_catalog else None)

    assert report.created == 5 and report.errors == 0
    for r in rows[:5]:
        rel = notion_emulator.plain(seen[r["soundcloud_id"]].page_id)["Playlists"]
        assert sorted(rel) == sorted([first.playlist_page_id, report.playlist_page_id])
    for r in rows[5:]:
        rel = notion_emulator.plain(seen[r["soundcloud_id"]].page_id)["Playlists"]
        assert rel == [first.playlist_page_id]
    assert len(notion_emulator.plain(report.playlist_page_id)["Tracks"]) == 10
    assert len(notion_emulator.plain(first.playlist_page_id)["Tracks"]) == 10
    assert len(notion_emulator.pages_in(notion_catalog.tracks_data_source_id)) == 15


def test_track_with_more_than_25_playlists_keeps_them_all(
    notion_emulator, notion_catalog, make_notion_sync
):
    ds = notion_catalog.playlists_data_source_id
    others = [notion_emulator.add_page(ds, {"Name": f"Old list {i}"}) for i in range(30)]
    row = make_track_rows(1)[0]
    page = notion_emulator.add_page(
        notion_catalog.tracks_data_source_id,
        {
            "Title": row["title"],
            "SoundCloud ID": row["soundcloud_id"],
            "Playlists": others,
        },
    )
    notion_emulator.reset_counts()

    report, seen = run(make_notion_sync(), make_playlist(track_count=1), [row])

    assert report.updated == 1 and seen[row["soundcloud_id"]].page_id == page
    rel = notion_emulator.plain(page)["Playlists"]
    assert len(rel) == 31 and rel[:30] == others and rel[30] == report.playlist_page_id
    # the full list was read through the paginated property endpoint
    assert notion_emulator.count("GET", "/v1/pages/{id}/properties/{property_id}") >= 1


def test_title_artist_fallback_links_a_hand_made_page(
    notion_emulator, notion_catalog, make_notion_sync
):
    ds = notion_catalog.tracks_data_source_id
    hand_made = notion_emulator.add_page(
        ds, {"Title": "Strobe", "Artist Name": "deadmau5", "Notes": "my favourite", "BPM": 128}
    )
    other_upload = notion_emulator.add_page(
        ds, {"Title": "Ghosts", "Artist Name": "deadmau5", "SoundCloud ID": 1}
    )
    rows = make_track_rows(3, start_id=700_000)
    rows[0].update(title="Strobe (Original Mix)", artist="Deadmau5")
    rows[1].update(title="Strobe (Someone Remix)", artist="deadmau5")  # not the same track
    rows[2].update(title="Ghosts", artist="deadmau5")  # a page with another SoundCloud id

    report, seen = run(make_notion_sync(), make_playlist(track_count=3), rows)

    assert seen[rows[0]["soundcloud_id"]].page_id == hand_made
    assert seen[rows[0]["soundcloud_id"]].status == "updated"
    assert seen[rows[1]["soundcloud_id"]].status == "created"
    assert seen[rows[2]["soundcloud_id"]].page_id != other_upload
    page = notion_emulator.plain(hand_made)
    assert page["SoundCloud ID"] == rows[0]["soundcloud_id"] and page["SoundCloud URL"]
    assert page["Playlists"] == [report.playlist_page_id]
    assert page["Notes"] == "my favourite" and page["BPM"] == 128  # not ours: untouched
    assert len(notion_emulator.pages_in(ds)) == 4


def test_dry_run_reports_exactly_and_writes_nothing(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(12)
    playlist = make_playlist(track_count=12)
    dry, _ = run(make_notion_sync(), playlist, rows, dry_run=True)
    assert dry.dry_run and dry.created == 12 and notion_emulator.writes == 0
    assert notion_emulator.pages_in(notion_catalog.tracks_data_source_id) == []

    first, seen = run(make_notion_sync(), playlist, rows)
    changed = [dict(r) for r in rows[3:]]
    changed[0]["genre"] = "Trance"
    changed += make_track_rows(2, start_id=600_000)
    args = dict(
        known=known_from(seen),
        playlist_page_id=first.playlist_page_id,
        removed=[r["soundcloud_id"] for r in rows[:3]],
    )
    notion_emulator.reset_counts()
    dry, dry_seen = run(make_notion_sync(), playlist, changed, dry_run=True, **args)
    assert notion_emulator.writes == 0 and dry_seen == {}
    real, _ = run(make_notion_sync(), playlist, changed, **args)

    assert [(t.recording_id, t.status) for t in dry.tracks] == [
        (t.recording_id, t.status) for t in real.tracks
    ]
    assert (dry.created, dry.updated, dry.skipped) == (2, 1, 8)
    assert [(u.recording_id, u.status) for u in dry.unlinked] == [
        (u.recording_id, u.status) for u in real.unlinked
    ]
    assert sum(u.status == "unlinked" for u in dry.unlinked) == 3


def test_alias_names_resolve(notion_emulator, make_notion_sync):
    from soundcloud_sync_tests.emulators.notion import seed_music_catalog

    catalog = seed_music_catalog(notion_emulator, variant="aliases")
    sync = make_notion_sync(catalog)
    tracks, _playlists = sync.schemas()
    assert tracks.props["title"].name == "Name" and tracks.props["artist"].name == "Artist"
    assert tracks.props["tempo"].name == "BPM" and tracks.props["downloaded"].name == "DL"
    assert tracks.props["playlists"].name == "Playlist"
    assert tracks.props["soundcloud_id"].type == "rich_text"
    rows = make_track_rows(4)
    rows[0]["genre"] = "Drum, Bass"  # commas are not allowed in Notion option names
    report, seen = run(sync, make_playlist(track_count=4), rows)
    assert report.created == 4 and report.errors == 0
    page = notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)
    assert page["Name"] == rows[0]["title"] and page["SoundCloud ID"] == str(
        rows[0]["soundcloud_id"]
    )
    assert page["Genres"] == ["Drum  Bass"]
    again, _ = run(make_notion_sync(catalog), make_playlist(track_count=4), rows)
    assert again.skipped == 4 and again.created == 0  # text ids are found again

    enrich = sync.update_enrichment(
        [{"page_id": seen[rows[0]["soundcloud_id"]].page_id, "tempo": 124.0, "downloaded": True}]
    )
    assert enrich.updated == 1
    page = notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)
    assert page["BPM"] == 124.0 and page["DL"] is True


def test_user_mapping_overrides_and_switches_off(notion_emulator, notion_catalog, make_notion_sync):
    sync = make_notion_sync(mapping={"tracks": {"tempo": "BPM", "isrc": None}})
    tracks, _ = sync.schemas()
    assert tracks.props["tempo"].name == "BPM" and "isrc" not in tracks.props
    rows = make_track_rows(1)
    _report, seen = run(sync, make_playlist(track_count=1), rows)
    page = notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)
    assert page["ISRC"] == ""  # switched off: never sent
    sync.update_enrichment([{"page_id": seen[rows[0]["soundcloud_id"]].page_id, "tempo": 90}])
    page = notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)
    assert page["BPM"] == 90 and page["Tempo"] is None


def test_long_text_is_split_and_capped(notion_emulator, notion_catalog, make_notion_sync):
    rows = make_track_rows(2)
    rows[0]["title"] = "T" * 4500
    rows[1]["album"] = "A" * 250_000  # beyond 100 parts of 2000 characters
    report, seen = run(make_notion_sync(), make_playlist(track_count=2), rows)
    assert report.errors == 0
    assert notion_emulator.plain(seen[rows[0]["soundcloud_id"]].page_id)["Title"] == "T" * 4500
    album = notion_emulator.plain(seen[rows[1]["soundcloud_id"]].page_id)["Album"]
    assert album == "A" * 200_000
    again, _ = run(make_notion_sync(), make_playlist(track_count=2), rows)
    assert again.skipped == 2  # what was stored compares equal to what we would send


def test_enrichment_writes_only_changed_values(notion_emulator, notion_catalog, make_notion_sync):
    rows = make_track_rows(5)
    _, seen = run(make_notion_sync(), make_playlist(track_count=5), rows)
    sync = make_notion_sync()
    enrich = [
        {
            "recording_id": sid,
            "page_id": r.page_id,
            "tempo": 120 + i,
            "key": "8A A minor",
            "key_confidence": 0.8,
            "duration_s": 181.5,
            "lufs": -8.2,
            "downloaded": True,
            "aiff_path": f"/music/{sid}.aiff",
            "m4a_path": None,
            "eagle_id": f"EAGLE{sid}",
            "processed_at": "2026-11-25T04:00:00Z",
        }
        for i, (sid, r) in enumerate(seen.items())
    ]
    notion_emulator.reset_counts()
    first = sync.update_enrichment(enrich)
    assert first.updated == 5 and notion_emulator.count("PATCH") == 5
    page = notion_emulator.plain(enrich[0]["page_id"])
    assert page["Tempo"] == 120 and page["Key"] == "8A A minor" and page["Downloaded"] is True
    assert page["AIFF File Path"].endswith(".aiff") and page["Eagle File ID"].startswith("EAGLE")
    assert page["Audio LUFS Level"] == -8.2 and page["Processing Timestamp"].startswith(
        "2026-11-25"
    )

    hashes = {r.recording_id: r.hash for r in first.tracks}
    again = [{**e, "enrichment_hash": hashes[e["recording_id"]]} for e in enrich]
    again[2]["tempo"] = 99.5
    notion_emulator.reset_counts()
    second = sync.update_enrichment(again)
    assert (second.updated, second.skipped) == (1, 4) and notion_emulator.count("PATCH") == 1
    assert notion_emulator.plain(again[2]["page_id"])["Tempo"] == 99.5


def test_stale_page_id_from_catalog_is_looked_up_again(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(3)
    known = {r["soundcloud_id"]: KnownPage("00000000-0000-4000-8000-000000000000") for r in rows}
    report, _seen = run(make_notion_sync(), make_playlist(track_count=3), rows, known=known)
    assert report.created == 3 and report.errors == 0
    assert len(pages_by_sid(notion_emulator, notion_catalog)) == 3


def test_lost_create_answers_are_reconciled_not_repeated(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(40)
    notion_emulator.script("POST", "/v1/pages", "commit_then_502", times=4)
    report, seen = run(make_notion_sync(), make_playlist(track_count=40), rows)
    assert len(notion_emulator.committed_then_failed) == 4
    assert report.errors == 0 and len(seen) == 40
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert len(pages) == 40 and all(len(p) == 1 for p in pages.values())
    # the first lost answer was the playlist page's own create: reconciled the same way
    assert notion_emulator.pages_in(notion_catalog.playlists_data_source_id) == [
        report.playlist_page_id
    ]
    ours = {r.page_id for r in seen.values()} | {report.playlist_page_id}
    assert set(notion_emulator.committed_then_failed) <= ours


def test_create_timeout_after_commit_is_reconciled(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(6)
    # a timeout no ordinary create reaches on a loaded machine; the hung ones pass it
    sync = make_notion_sync(timeout_s=2.0)
    sync.schemas()
    notion_emulator.script("POST", "/v1/pages", "commit_then_hang", times=2, hang_seconds=4.0)
    report, _seen = run(sync, make_playlist(track_count=6), rows)
    assert report.errors == 0 and sync.gateway.stats["ambiguous_creates"] == 2
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert len(pages) == 6 and all(len(p) == 1 for p in pages.values())


def test_server_errors_on_reads_and_updates_are_retried(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(5)
    notion_emulator.script("GET", "/v1/data_sources/{id}", "503", times=1)
    notion_emulator.script("POST", "/v1/data_sources/{id}/query", "500", times=1)
    notion_emulator.script("PATCH", "/v1/pages/{id}", "504", times=1)
    report, _ = run(make_notion_sync(), make_playlist(track_count=5), rows)
    assert report.created == 5 and report.errors == 0 and report.sync_status == "Synced"
    assert notion_emulator.statuses[503] == notion_emulator.statuses[504] == 1


def test_page_trashed_by_the_user_is_created_again(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = make_track_rows(3)
    playlist = make_playlist(track_count=3)
    first, seen = run(make_notion_sync(), playlist, rows)
    trashed = seen[rows[1]["soundcloud_id"]].page_id
    notion_emulator.pages[trashed].in_trash = True
    rows[1] = {**rows[1], "title": "Renamed"}  # so the known page must be written

    report, seen2 = run(
        make_notion_sync(),
        playlist,
        rows,
        known=known_from(seen),
        playlist_page_id=first.playlist_page_id,
    )

    assert report.errors == 0, [t for t in report.tracks if t.status == "error"]
    assert report.created == 1
    new_page = seen2[rows[1]["soundcloud_id"]].page_id
    assert new_page != trashed
    assert pages_by_sid(notion_emulator, notion_catalog)[rows[1]["soundcloud_id"]] == [new_page]


def test_playlist_members_reveal_duplicates(notion_emulator, notion_catalog, make_notion_sync):
    rows = make_track_rows(4)
    first, seen = run(make_notion_sync(), make_playlist(track_count=4), rows)
    sid = rows[0]["soundcloud_id"]
    twin = notion_emulator.add_page(
        notion_catalog.tracks_data_source_id,
        {"Title": "copy", "SoundCloud ID": sid, "Playlists": [first.playlist_page_id]},
    )
    members = make_notion_sync().playlist_members(first.playlist_page_id)
    assert len(members) == 4
    assert sorted(members[sid]) == sorted([seen[sid].page_id, twin])
    assert [s for s, pages in members.items() if len(pages) > 1] == [sid]


@pytest.mark.parametrize("filler", [0, 150], ids=["scanned", "queried"])
def test_pages_of_older_scripts_are_found_by_raw_url(
    notion_emulator, notion_catalog, make_notion_sync, filler
):
    ds = notion_catalog.tracks_data_source_id
    for row in make_track_rows(filler, start_id=9_000_000, prefix="Other"):
        notion_emulator.add_page(ds, {"Title": row["title"], "SoundCloud ID": row["soundcloud_id"]})
    rows = make_track_rows(150)
    old = rows[10]
    raw_url = old["url"].replace("https://", "http://m.") + "?in=someone/sets/x&utm_source=y"
    legacy = notion_emulator.add_page(
        ds, {"Title": "different title", "SoundCloud URL": raw_url, "Spotify ID": "sp1"}
    )
    notion_emulator.reset_counts()

    report, seen = run(make_notion_sync(), make_playlist(track_count=150), rows)

    assert seen[old["soundcloud_id"]].page_id == legacy and report.created == 149
    page = notion_emulator.plain(legacy)
    assert page["SoundCloud ID"] == old["soundcloud_id"] and page["Spotify ID"] == "sp1"
    assert len(notion_emulator.pages_in(ds)) == filler + 150
    queries = notion_emulator.count("POST", "/v1/data_sources/{id}/query")
    assert queries == (2 if not filler else 2 + 2 + 3)  # playlist + scan | + ids + url/title


def test_random_server_errors_on_every_method_leave_a_clean_catalog(
    notion_emulator, notion_catalog, make_notion_sync
):
    notion_emulator.faults.server_error = 0.06
    notion_emulator.faults.rate_limited = 0.06
    notion_emulator.faults.retry_after = 0
    rows = make_track_rows(60)
    playlist = make_playlist(track_count=60)
    report, seen = run(make_notion_sync(), playlist, rows, max_concurrent=6)
    changed = [{**r, "genre": "Electro"} for r in rows[:20]] + rows[20:]
    again, _ = run(
        make_notion_sync(),
        playlist,
        changed,
        known=known_from(seen),
        playlist_page_id=report.playlist_page_id,
    )

    assert notion_emulator.statuses[500] + notion_emulator.statuses[503] > 0
    assert report.errors == 0 and again.errors == 0 and again.updated == 20
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert len(pages) == 60 and all(len(p) == 1 for p in pages.values())
    assert notion_emulator.pages_in(notion_catalog.playlists_data_source_id) == [
        report.playlist_page_id
    ]


def test_two_runs_at_once_sharing_new_tracks_make_no_duplicates(
    notion_emulator, notion_catalog, make_notion_sync
):
    import threading

    shared = make_track_rows(30)
    lists = {
        "dj-night/sets/a": shared + make_track_rows(10, start_id=300_000),
        "dj-night/sets/b": make_track_rows(10, start_id=400_000) + shared,
    }
    reports: dict[str, SyncReport] = {}

    def sync(key: str) -> None:  # each run has its own client, as two processes would
        reports[key] = make_notion_sync().upsert_playlist(
            make_playlist(key, 40), lists[key], max_concurrent=4
        )

    threads = [threading.Thread(target=sync, args=(key,)) for key in lists]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(reports) == set(lists)  # both runs returned
    errors = [t for r in reports.values() for t in r.tracks if t.status == "error"]
    assert errors == []
    pages = pages_by_sid(notion_emulator, notion_catalog)
    duplicates = {sid: ids for sid, ids in pages.items() if len(ids) > 1}
    assert len(pages) == 50 and duplicates == {}
    both = sorted(r.playlist_page_id for r in reports.values())
    for row in shared:
        assert sorted(notion_emulator.plain(pages[row["soundcloud_id"]][0])["Playlists"]) == both
    assert sum(r.created for r in reports.values()) == 50
