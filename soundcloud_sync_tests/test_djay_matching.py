"""djay tracks matched to the catalog's recordings, and djay's analysis against ours."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from soundcloud_sync.catalog import Catalog, TrackRow, effective_tempo, tempo_source
from soundcloud_sync.catalog import djay as djay_catalog
from soundcloud_sync.catalog.djay import record_djay
from soundcloud_sync.catalog.schema import tracks
from soundcloud_sync.config import Settings
from soundcloud_sync.notion import NotionCatalogSync
from soundcloud_sync.sources.djay import DjayTrack
from soundcloud_sync.sources.models import Playlist, Track
from soundcloud_sync.steps.djay import disagreements, match_tracks, sync_library, tempos_agree
from soundcloud_sync_tests.djay_library import FixtureLibrary, FixtureTrack, write_library
from soundcloud_sync_tests.emulators.notion import NotionEmulator, seed_music_catalog


def recording_rows(catalog: Catalog) -> list[dict]:
    """Every row of the catalog's recordings, as the database holds it."""
    with catalog.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tracks))]


def _rows() -> list[dict]:
    return [
        {"recording_id": 11, "soundcloud_id": 11, "title": "Night Drive", "artist": "Mira Vale", "duration_ms": 200_000,
         "isrc": "GBAYE2400101", "spotify_id": None, "files": {"aiff": "/lib/Mira Vale - Night Drive.aiff"},
         "source_path": None, "tempo": 124.0, "key": "A minor", "djay_title_id": None},
        {"recording_id": -1, "soundcloud_id": None, "title": "Static Garden", "artist": "Kaia Moreno", "duration_ms": 180_000,
         "isrc": "DEX1L2400104", "spotify_id": "6rqhFgbbKwnb9MLmUQDhG6", "files": None,
         "source_path": None, "tempo": None, "key": None, "djay_title_id": None},
        {"recording_id": 12, "soundcloud_id": 12, "title": "Low Orbit", "artist": "Polyhue", "duration_ms": 240_000,
         "isrc": None, "spotify_id": None, "files": None, "source_path": None, "tempo": 87.0,
         "key": "C major", "djay_title_id": "f" * 32},
    ]  # fmt: skip


def test_each_rule_in_order() -> None:
    tracks = [
        DjayTrack("a" * 32, "X", source_uris=("spotify:track:6rqhFgbbKwnb9MLmUQDhG6",)),
        DjayTrack("b" * 32, "Y", source_uris=("soundcloud:tracks:11",)),
        DjayTrack("c" * 32, "Z", isrc="gbaye2400101"),
        DjayTrack("d" * 32, "W", source_uris=("file:///lib/Mira%20Vale%20-%20Night%20Drive.aiff",)),
        DjayTrack("f" * 32, "Anything"),
        DjayTrack("e" * 32, "Low Orbit", "Polyhue feat. Cassia", duration_s=241.5),
        DjayTrack("9" * 32, "Brand New", "Nobody"),
    ]
    found = [(m.rule, m.recording_id, m.possible_match) for m in match_tracks(tracks, _rows())]
    assert found == [
        ("service", -1, None), ("service", 11, None), ("isrc", 11, None), ("file", 11, None),
        ("known", 12, None), ("new", None, 12), ("new", None, None),
    ]  # fmt: skip


def test_tempo_octaves_and_disagreements() -> None:
    assert tempos_agree(87.0, 174.2) and tempos_agree(124.4, 124.0)
    assert not tempos_agree(124.6, 124.0) and not tempos_agree(100.0, 128.0)
    pairs = [
        (DjayTrack("a" * 32, "Night Drive", tempo=62.1, key="A minor"), TrackRow.of(_rows()[0])),
        (DjayTrack("b" * 32, "Low Orbit", tempo=90.0, key="A minor"), TrackRow.of(_rows()[2])),
    ]
    assert [(d.recording_id, d.field) for d in disagreements(pairs)] == [(12, "tempo"), (12, "key")]


def test_recorded_facts_and_the_djs_tempo(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.sqlite")
    new = DjayTrack("a" * 32, "Rip", "Someone", duration_s=301.0, manual_tempo=126.0, tempo=124.0,
                    play_count=3, playlists=("Warmup",))  # fmt: skip
    first = record_djay(catalog, lambda rows: [(new, None)])
    assert first.created == [-1]
    [row] = recording_rows(catalog)
    assert row["djay_title_id"] == "a" * 32 and row["duration_ms"] == 301_000
    stored = catalog.rows([-1])[-1]
    assert (effective_tempo(stored), tempo_source(stored)) == (126.0, "djay (manual)")
    again = record_djay(catalog, lambda rows: [(new, -1)])
    assert again.created == [] and again.changed == []  # nothing new to record
    measured = TrackRow(recording_id=1, tempo=124.0)
    assert effective_tempo(measured) == 124.0 and tempo_source(measured) == "analysis"


def test_djay_library_path_setting(tmp_path: Path) -> None:
    home = {"SOUNDCLOUD_SYNC_HOME": str(tmp_path)}
    default = Settings.from_env(home).djay_library_path
    assert default == Path.home() / "Music/djay/djay Media Library.djayMediaLibrary/MediaLibrary.db"
    folder = tmp_path / "djay Media Library.djayMediaLibrary"
    given = Settings.from_env({**home, "DJAY_LIBRARY_PATH": str(folder)}).djay_library_path
    assert given == folder / "MediaLibrary.db"


def test_sensor_requests_a_run_when_the_file_changes(tmp_path: Path) -> None:
    from dagster import RunRequest, SkipReason, build_sensor_context

    from soundcloud_sync.defs.djay import djay_library_sensor
    from soundcloud_sync.defs.resources import resources_from_settings

    library = tmp_path / "MediaLibrary.db"
    settings = Settings.from_env(
        {"SOUNDCLOUD_SYNC_HOME": str(tmp_path / "home"), "DJAY_LIBRARY_PATH": str(library)}
    )
    resources = resources_from_settings(settings)

    def tick(cursor: str | None) -> tuple[object, str | None]:
        context = build_sensor_context(
            cursor=cursor, resources={k: resources[k] for k in ("catalog", "djay")}
        )
        result = djay_library_sensor(context)
        return result, context.cursor

    result, cursor = tick(None)
    assert isinstance(result, SkipReason) and "no djay library" in str(result.skip_message)
    write_library(library, FixtureLibrary(tracks=[FixtureTrack("a" * 32, "T")]))
    result, cursor = tick(cursor)
    assert isinstance(result, RunRequest)
    result, cursor = tick(cursor)
    assert isinstance(result, SkipReason)  # unchanged: only stat() was called
    os.utime(library, ns=(1, library.stat().st_mtime_ns + 1_000_000))
    result, _ = tick(cursor)
    assert isinstance(result, RunRequest)


def test_cli_names_a_library_that_is_not_one(tmp_path: Path) -> None:
    """`sync djay` on a file that is not SQLite: one line naming the file, exit 1."""
    import subprocess
    import sys

    bad = tmp_path / "MediaLibrary.db"
    bad.write_text("not a database")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "DAGSTER_HOME"))}
    env.update(SOUNDCLOUD_SYNC_HOME=str(tmp_path / "home"), DJAY_LIBRARY_PATH=str(bad))
    cli = str(Path(sys.executable).parent / "soundcloud-sync")
    result = subprocess.run([cli, "sync", "djay"], env=env, capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: djay library {bad}: not an SQLite database (djay's MediaLibrary.db is one)"
    )


def test_a_new_djay_track_finds_its_hand_made_page_by_title_and_artist(
    tmp_path: Path,
    notion_emulator: NotionEmulator,
    make_notion_sync: Callable[..., NotionCatalogSync],
) -> None:
    """The seed's duplicate check: a page made by hand (title + artist, no ids) is the
    recording's page; an old database without djay's properties gets one warning."""
    catalog_seeded = seed_music_catalog(
        notion_emulator, hand_made=[{"Title": "Basement Dub", "Artist Name": "Unknown Artist"}]
    )
    [hand_made] = notion_emulator.pages_in(catalog_seeded.tracks_data_source_id)
    library = tmp_path / "MediaLibrary.db"
    write_library(library, FixtureLibrary(tracks=[
        FixtureTrack("a" * 32, "Basement Dub", "Unknown Artist", uris=["file:///rip.mp3"],
                     bpm=131.0, play_count=4),
        FixtureTrack("b" * 32, "Fresh Cut", "Someone", uris=["spotify:track:" + "x" * 22]),
    ]))  # fmt: skip
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.sqlite")
    report = sync_library(library, catalog, make_notion_sync(catalog_seeded))
    assert report.new_pages == 1  # Fresh Cut; Basement Dub has its page
    rows = {r["title"]: r for r in catalog.tracks_by_id([-1, -2]).values()}
    assert rows["Basement Dub"]["notion_page_id"] == hand_made
    assert len(notion_emulator.pages_in(catalog_seeded.tracks_data_source_id)) == 2
    warnings = [p for p in report.problems if "djay's facts" in p]
    assert len(warnings) == 1 and "'djay BPM'" in warnings[0]


def test_a_recording_merged_while_djay_syncs_still_gets_the_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A djay-only recording that a SoundCloud listing merges into its track (the track
    now carries the same ISRC) while djay's sync runs: the DJ's new facts land on the
    merged row. Matched before the catalog's lock, they went to the row that was gone
    (until the next sync)."""
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.sqlite")
    rip = "5" * 32

    def library(name: str, plays: int) -> Path:
        path = tmp_path / name / "MediaLibrary.db"
        write_library(path, FixtureLibrary(tracks=[
            FixtureTrack(rip, "Basement Dub", "Kai Ren", isrc="GBXYZ2400001", play_count=plays)
        ]))  # fmt: skip
        return path

    def listing(isrc: str | None) -> Playlist:
        return Playlist(
            soundcloud_id=1, key="label/sets/dubs", url="https://soundcloud.com/label/sets/dubs",
            title="Dubs", track_count=1,
            tracks=(Track(77, 1, title="Basement Dub", artist="Kai Ren", isrc=isrc,
                          duration_ms=301_000, url="https://soundcloud.com/label/basement-dub"),),
        )  # fmt: skip

    catalog.record_playlist(listing(None))  # no ISRC yet: nothing proves it is djay's track
    sync_library(library("before", 1), catalog, None)
    assert sorted(r["recording_id"] for r in recording_rows(catalog)) == [-1, 77]
    take_lock, listed = djay_catalog.lock_recordings, []

    def listing_writes_first(conn: Connection) -> None:
        if not listed:  # the listing's write lands just before djay's
            listed.append(catalog.record_playlist(listing("GBXYZ2400001")))
        take_lock(conn)

    monkeypatch.setattr(djay_catalog, "lock_recordings", listing_writes_first)
    report = sync_library(library("after", 4), catalog, None)

    assert listed and report.matched == {"known": 1}
    assert [r["recording_id"] for r in recording_rows(catalog)] == [77]
    assert catalog.rows([77])[77].djay_play_count == 4
