"""DJ exports from a catalog: hostile names, stable TrackIDs, path mapping, the format.

The catalog is filled the way the pipeline fills it (record_playlist, then files and
analysis per track); the XML is read back with pyrekordbox and checked against the
published rekordbox XML format description.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from urllib.parse import unquote

import pytest
from pyrekordbox.rbxml import Node, RekordboxXml, encode_path
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from soundcloud_sync.catalog import Catalog
from soundcloud_sync.catalog.schema import SCHEMA_VERSION, _v4_export_columns, metadata
from soundcloud_sync.export import export_rekordbox
from soundcloud_sync.sources.models import Playlist, Track
from soundcloud_sync_tests.servers import postgres_server

CLI = str(Path(sys.executable).parent / "soundcloud-sync")
LONG_TITLE = "Ω" * 20 + "x" * 230  # 250 characters, longer than a file name may be
HOSTILE = [
    # (soundcloud id, artist, title)
    (101, "AC&DC", "Rock & <Roll> \"Live\" '76'"),
    (102, "DJ 🎧 Emoji", "Fire 🔥🔥 ❤️‍🔥 Edit"),
    (103, "Long Player", LONG_TITLE),
    (104, "First Artist", "Namesake"),
    (105, "Second Artist", "Namesake"),  # same title, another artist
    (106, "First Artist", "Namesake"),  # a re-upload: same title, same artist
    (107, "Line\nBreak", "Tab\tand\x01control"),
]


def track(sid: int, position: int, artist: str, title: str) -> Track:
    return Track(
        soundcloud_id=sid, position=position, title=title, artist=artist, uploader=artist,
        url=f"https://soundcloud.com/u/t-{sid}", duration_ms=301_000, genre="House & Garage",
    )  # fmt: skip


def sync_playlist(catalog: Catalog, slug: str, title: str, tracks: list[Track]) -> str:
    """Register and record a playlist as a sync does."""
    key, url = f"crate/sets/{slug}", f"https://soundcloud.com/crate/sets/{slug}"
    catalog.remember_playlist_url(key, url)
    catalog.record_playlist(
        Playlist(soundcloud_id=zlib.crc32(slug.encode()), key=key, url=url, title=title,
                 track_count=len(tracks), tracks=tuple(tracks))
    )  # fmt: skip
    return key


def write_file(catalog: Catalog, library: Path, sid: int, name: str, **analysis: object) -> Path:
    """A library file on disk and the catalog's record of it and of its analysis."""
    path = library / f"{name}.aiff"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"FORM" + bytes(sid % 251 for _ in range(100 + sid)))
    values = {"tempo": 124.0, "key": "A minor", "duration_s": 301.4, **analysis}
    catalog.update_track(sid, files={"aiff": str(path)}, **values)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def catalog(home: Path) -> Catalog:
    return Catalog(f"sqlite:///{home}/catalog.sqlite")


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOUNDCLOUD_", "DJ_"))}
    environment |= {"SOUNDCLOUD_SYNC_HOME": str(home), **env}
    return subprocess.run(
        [CLI, *args], env=environment, capture_output=True, text=True, timeout=120,
        cwd=home.parent,
    )  # fmt: skip


def raw_tracks(path: Path) -> dict[str, ET.Element]:
    """COLLECTION tracks by TrackID, read with the standard library's parser."""
    root = ET.parse(path).getroot()
    return {t.get("TrackID"): t for t in root.find("COLLECTION").findall("TRACK")}


def playlist_node(xml: RekordboxXml, *names: str) -> Node:
    """A node by its path of names (pyrekordbox's own lookup is an XPath query, which a
    name with a double quote in it breaks)."""
    node = xml.root_playlist_folder
    for name in names:
        [node] = [child for child in node.get_playlists() if child.name == name]
    return node


def test_hostile_names_survive_a_round_trip(home: Path, catalog: Catalog) -> None:
    tracks = [track(sid, i, artist, title) for i, (sid, artist, title) in enumerate(HOSTILE, 1)]
    key = sync_playlist(catalog, "hostile", 'Dusk & "Dawn" <B2B> 🌅', tracks)
    library = home / "library"
    paths = {
        sid: write_file(catalog, library / "Sub & <dir>", sid, f"{artist} - {title}"[:150] + f" {sid}")
        for sid, artist, title in HOSTILE if "\n" not in artist
    }  # fmt: skip
    paths[107] = write_file(catalog, library, 107, "control [107]")

    result = cli(home, "export", "rekordbox")
    assert result.returncode == 0, result.stderr
    assert cli(home, "export", "m3u").returncode == 0

    xml = RekordboxXml(library / "rekordbox.xml")
    assert xml.num_tracks == len(HOSTILE)
    by_path = {"/" + t["Location"]: t for t in xml.get_tracks()}
    for sid, artist, title in HOSTILE:
        read = by_path[str(paths[sid])]
        if sid == 107:  # XML 1.0 cannot hold \x01: it is dropped, the rest kept
            assert (read["Name"], read["Artist"]) == ("Tab\tandcontrol", "Line\nBreak")
            continue
        assert (read["Name"], read["Artist"]) == (title, artist)
        assert read["Genre"] == "House & Garage"
    names = [t["Name"] for t in xml.get_tracks()]
    assert names.count("Namesake") == 3 and len({t["TrackID"] for t in xml.get_tracks()}) == 7
    node = playlist_node(xml, "SoundCloud", 'Dusk & "Dawn" <B2B> 🌅')
    ids = {t["TrackID"]: "/" + t["Location"] for t in xml.get_tracks()}
    assert [ids[k] for k in node.get_tracks()] == [str(paths[sid]) for sid, _, _ in HOSTILE]

    m3u8 = library / "playlists" / "Dusk & _Dawn_ _B2B_ 🌅.m3u8"
    lines = m3u8.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == [
        "#EXTM3U",
        '#PLAYLIST:Dusk & "Dawn" <B2B> 🌅',
        "# soundcloud-sync playlist: crate/sets/hostile",
    ]
    entries = lines[3:]
    assert len(entries) == 2 * len(HOSTILE)
    for (sid, artist, title), (info, entry) in zip(
        HOSTILE, zip(entries[::2], entries[1::2], strict=True), strict=True
    ):
        assert (m3u8.parent / entry).resolve() == paths[sid]
        if sid != 107:
            assert info == f"#EXTINF:301,{artist} - {title}"
    assert entries[-2] == "#EXTINF:301,Line Break - Tab\tand\x01control"  # one line each
    assert key == "crate/sets/hostile"


def test_track_ids_stay_when_a_track_leaves_and_comes_back(home: Path, catalog: Catalog) -> None:
    a, b, c = track(11, 1, "A", "One"), track(12, 2, "B", "Two"), track(13, 3, "C", "Three")
    sync_playlist(catalog, "set", "Set", [a, b, c])
    for t in (a, b, c):
        write_file(catalog, home / "library", t.soundcloud_id, t.title)
    out = home / "export.xml"
    assert cli(home, "export", "rekordbox", "--output", str(out)).returncode == 0
    before = {t["Name"]: t["TrackID"] for t in RekordboxXml(out).get_tracks()}

    sync_playlist(catalog, "set", "Set", [track(11, 1, "A", "One"), track(13, 2, "C", "Three")])
    assert cli(home, "export", "rekordbox", "--output", str(out)).returncode == 0
    xml = RekordboxXml(out)
    assert xml.get_playlist("SoundCloud", "Set").get_tracks() == [before["One"], before["Three"]]
    assert {t["Name"]: t["TrackID"] for t in xml.get_tracks()} == before  # file still there

    back_in_front = [track(12, 1, "B", "Two"), track(11, 2, "A", "One"),
                     track(13, 3, "C", "Three"), track(14, 4, "D", "Four")]  # fmt: skip
    sync_playlist(catalog, "set", "Set", back_in_front)
    write_file(catalog, home / "library", 14, "Four")
    assert cli(home, "export", "rekordbox", "--output", str(out)).returncode == 0
    xml = RekordboxXml(out)
    after = {t["Name"]: t["TrackID"] for t in xml.get_tracks()}
    assert {k: after[k] for k in before} == before
    assert after["Four"] not in before.values()
    playlist = xml.get_playlist("SoundCloud", "Set").get_tracks()
    assert playlist == [before["Two"], before["One"], before["Three"], after["Four"]]


def test_a_renamed_playlist_leaves_no_old_file_behind(home: Path, catalog: Catalog) -> None:
    song = track(61, 1, "A", "Song")
    sync_playlist(catalog, "renamed", "Old Name", [song])
    write_file(catalog, home / "library", 61, "A - Song")
    folder = home / "library" / "playlists"
    folder.mkdir(parents=True)
    mine = folder / "Mine.m3u8"
    mine.write_text("#EXTM3U\n../A - Song.aiff\n")  # the user's own playlist
    assert cli(home, "export", "m3u").returncode == 0
    assert (folder / "Old Name.m3u8").is_file()

    sync_playlist(catalog, "renamed", "New Name", [song])
    result = cli(home, "export", "m3u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{folder / 'New Name.m3u8'}: 1 tracks"
    assert sorted(p.name for p in folder.iterdir()) == ["Mine.m3u8", "New Name.m3u8"]


def test_beat_grid_and_memory_cue_only_where_the_analysis_found_them(
    home: Path, catalog: Catalog
) -> None:
    tracks = [track(21, 1, "G", "Gridded"), track(22, 2, "N", "No grid"), track(23, 3, "U", "Up")]
    sync_playlist(catalog, "grids", "Grids", tracks)
    library = home / "library"
    # 125 BPM: a beat every 0.48 s; the first beat is the 3rd of its bar
    write_file(catalog, library, 21, "g", tempo=125.0, key="C# major",
               first_beat_s=0.102, first_downbeat_s=1.062)  # fmt: skip
    write_file(catalog, library, 22, "n", tempo=128.0, key="D# minor")
    write_file(catalog, library, 23, "u", tempo=None, key=None)
    assert cli(home, "export", "rekordbox").returncode == 0

    xml = RekordboxXml(library / "rekordbox.xml")
    gridded, plain, unmeasured = (xml.get_track(TrackID=i) for i in (1, 2, 3))
    [tempo] = gridded.tempos
    assert (tempo["Inizio"], tempo["Bpm"], tempo["Metro"], tempo["Battito"]) == (
        0.102,
        125.0,
        "4/4",
        3,
    )
    [cue] = gridded.marks
    assert (cue["Start"], cue["Num"], cue["Type"]) == (1.062, -1, "cue")
    assert (gridded["Tonality"], plain["Tonality"]) == ("Db", "Ebm")
    assert plain.tempos == [] and plain.marks == [] and plain["AverageBpm"] == 128.0
    assert unmeasured.tempos == [] and unmeasured["AverageBpm"] == 0.0
    assert unmeasured["Tonality"] == ""


def test_collection_follows_the_published_format(home: Path, catalog: Catalog) -> None:
    tracks = [track(31, 1, "A", "One"), track(32, 2, "B", "Two"), track(33, 3, "C", "Gone")]
    sync_playlist(catalog, "first", "First", tracks[:2])
    sync_playlist(catalog, "second", "Second", tracks)
    for t in tracks[:2]:
        write_file(catalog, home / "library", t.soundcloud_id, t.title, first_beat_s=0.5)
    missing = write_file(catalog, home / "library", 33, "Gone")
    missing.unlink()  # deleted by hand: no DJ program could load it
    assert cli(home, "export", "rekordbox").returncode == 0

    path = home / "library" / "rekordbox.xml"
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DJ_PLAYLISTS')
    root = ET.parse(path).getroot()
    assert (root.tag, root.get("Version")) == ("DJ_PLAYLISTS", "1.0.0")
    product = root.find("PRODUCT")
    assert set(product.attrib) == {"Name", "Version", "Company"}
    collection = root.find("COLLECTION")
    entries = collection.findall("TRACK")
    assert int(collection.get("Entries")) == len(entries) == 2
    for entry in entries:
        a = entry.attrib
        assert int(a["TrackID"]) > 0 and int(a["Size"]) > 0 and int(a["TotalTime"]) == 301
        assert a["Kind"] == "AIFF File" and a["Location"].startswith("file://localhost/")
        assert len(a["DateAdded"]) == 10 and a["DateAdded"][4] == a["DateAdded"][7] == "-"
        assert float(a["AverageBpm"]) == 124.0 and a["Tonality"] == "Am"
        [tempo] = entry.findall("TEMPO")
        assert float(tempo.get("Inizio")) == 0.5 and tempo.get("Battito") in "1234"
    playlists = root.find("PLAYLISTS")
    [top] = playlists.findall("NODE")
    assert (top.get("Type"), top.get("Name"), top.get("Count")) == ("0", "ROOT", "1")
    [folder] = top.findall("NODE")
    assert (folder.get("Type"), folder.get("Name"), folder.get("Count")) == ("0", "SoundCloud", "2")
    ids = {e.get("TrackID") for e in entries}
    for node, count in zip(folder.findall("NODE"), (2, 2), strict=True):
        assert (node.get("Type"), node.get("KeyType")) == ("1", "0")
        keys = [t.get("Key") for t in node.findall("TRACK")]
        assert int(node.get("Entries")) == len(keys) == count and set(keys) <= ids


def test_path_map_rewrites_both_formats(home: Path, catalog: Catalog) -> None:
    sync_playlist(catalog, "away", "Away", [track(41, 1, "A", "Song")])
    library = home / "library"
    write_file(catalog, library, 41, "A - Song")

    mapped = cli(
        home, "export", "rekordbox", DJ_EXPORT_PATH_MAP=f"/nowhere=/x;{library}=/Volumes/music"
    )
    assert mapped.returncode == 0, mapped.stderr
    [entry] = raw_tracks(library / "rekordbox.xml").values()
    assert entry.get("Location") == "file://localhost/Volumes/music/A%20-%20Song.aiff"

    windows = {"DJ_EXPORT_PATH_MAP": f"{home}=D:\\DJ"}
    assert cli(home, "export", "rekordbox", **windows).returncode == 0
    [entry] = raw_tracks(library / "rekordbox.xml").values()
    location = entry.get("Location")
    assert location == "file://localhost/D:/DJ/library/A%20-%20Song.aiff"
    assert location == encode_path("D:\\DJ\\library\\A - Song.aiff")  # pyrekordbox agrees

    # The playlist file moves with the library: its entry stays relative.
    assert cli(home, "export", "m3u", **windows).returncode == 0
    lines = (library / "playlists" / "Away.m3u8").read_text().splitlines()
    assert lines[-1] == "..\\A - Song.aiff"
    # Written outside the mapped folder, it names the file where the other machine has it.
    outside = home.parent / "elsewhere"
    assert cli(home, "export", "m3u", "--output", str(outside), **windows).returncode == 0
    assert (outside / "Away.m3u8").read_text().splitlines()[-1] == "D:\\DJ\\library\\A - Song.aiff"


@pytest.mark.parametrize("value", ["/srv/music", "/srv=", "music=/Volumes/music"])
def test_malformed_path_map_is_one_line_naming_the_variable(home: Path, value: str) -> None:
    result = cli(home, "export", "rekordbox", DJ_EXPORT_PATH_MAP=value)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: DJ_EXPORT_PATH_MAP: ") and value.split("=")[0] in line


def test_location_is_percent_encoded_by_rekordbox_rules(home: Path, catalog: Catalog) -> None:
    sync_playlist(catalog, "enc", "Enc", [track(51, 1, "Ä", "100% #1 ?&=+")])
    path = write_file(catalog, home / "library", 51, "Ä - 100% #1 _&=+ (Mix)")
    assert cli(home, "export", "rekordbox").returncode == 0
    [entry] = raw_tracks(home / "library" / "rekordbox.xml").values()
    location = entry.get("Location")
    assert " " not in location and "#" not in location and "%25" in location
    assert "%C3%84" in location  # UTF-8, not Latin-1
    assert unquote(location.removeprefix("file://localhost")) == str(path)


def old_catalog(url: str) -> None:
    """A catalog as the release before the export columns wrote it (schema version 1)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        for column in ("first_beat_s", "first_downbeat_s", "dj_track_id"):
            conn.execute(text(f"ALTER TABLE tracks DROP COLUMN {column}"))
        conn.execute(text("INSERT INTO catalog_meta VALUES ('schema_version', '1')"))
    engine.dispose()


def migrate_and_export(url: str, tmp_path: Path) -> None:
    """Migrate an old catalog (twice: idempotent), then export from it."""
    old_catalog(url)
    catalog = Catalog(url)
    with catalog.engine.begin() as conn:
        _v4_export_columns(conn)  # a second run finds the columns there: no error
    columns = {c["name"] for c in inspect(catalog.engine).get_columns("tracks")}
    assert {"first_beat_s", "first_downbeat_s", "dj_track_id"} <= columns
    with catalog.engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM catalog_meta")).scalar()
    assert int(version) == SCHEMA_VERSION

    sync_playlist(catalog, "migrated", "Migrated", [track(71, 1, "A", "x"), track(72, 2, "B", "y")])
    write_file(catalog, tmp_path / "library", 71, "x", first_beat_s=0.25, first_downbeat_s=0.25)
    write_file(catalog, tmp_path / "library", 72, "y")
    report = export_rekordbox(catalog, ["aiff"], tmp_path / "out.xml")
    assert (report.tracks, report.playlists, report.with_grid) == (2, 1, 1)
    ids = [t["TrackID"] for t in RekordboxXml(tmp_path / "out.xml").get_tracks()]
    assert ids == [1, 2]
    with pytest.raises(IntegrityError):  # two tracks can never share a TrackID
        catalog.update_track(72, dj_track_id=1)


def test_migration_on_sqlite(tmp_path: Path) -> None:
    migrate_and_export(f"sqlite:///{tmp_path}/old.sqlite", tmp_path)


@pytest.mark.scale
def test_migration_on_postgresql(tmp_path: Path) -> None:
    with postgres_server() as server:
        server.create_database("old_catalog")
        migrate_and_export(server.url("old_catalog"), tmp_path)
