"""Schema checks, `notion init`, and keeping the token secret."""

from __future__ import annotations

import logging

import pytest

from soundcloud_sync.notion import (
    NotionCatalogSync,
    NotionError,
    NotionGateway,
    SchemaError,
    SchemaMapping,
    SharedRateLimiter,
    init_databases,
)
from soundcloud_sync_tests.emulators.notion import (
    PLAYLIST_PROPERTIES,
    SeededCatalog,
    legacy_track_properties,
)
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows


def _catalog(emu, tracks_props, playlist_props) -> SeededCatalog:
    tracks_db, tracks_ds = emu.create_database("Music Tracks", tracks_props)
    pl_db, pl_ds = emu.create_database("Playlists", playlist_props)
    return SeededCatalog(tracks_db, pl_db, tracks_ds, pl_ds, "Playlists")


def test_bad_schema_fails_before_any_write_naming_every_problem(notion_emulator, make_notion_sync):
    tracks = legacy_track_properties()
    del tracks["SoundCloud ID"]
    tracks["Artist Name"] = {"number": {}}
    tracks["Downloaded"] = {"rich_text": {}}  # optional field, but present with a wrong type
    del tracks["Audio LUFS Level"]  # optional and absent: a warning, not an error
    playlists = dict(PLAYLIST_PROPERTIES)
    del playlists["Last Synced"]
    catalog = _catalog(notion_emulator, tracks, playlists)  # and no Playlists relation at all
    sync = make_notion_sync(catalog, mapping={"tracks": {"tempo": "Beats Per Minute"}})

    with pytest.raises(SchemaError) as caught:
        sync.upsert_playlist(make_playlist(track_count=2), make_track_rows(2))

    message = str(caught.value)
    for expected in (
        "'SoundCloud ID'",
        "'Artist Name' (artist) has type number, expected rich_text",
        "'Downloaded' (downloaded) has type rich_text, expected checkbox",
        "'Playlists', 'Playlist', 'Playlist Relation'",
        "'Beats Per Minute'",
        "Playlists: property 'Last Synced'",
    ):
        assert expected in message, expected
    assert len(caught.value.problems) == 6
    assert "LUFS" not in message
    assert notion_emulator.writes == 0


def test_relation_to_the_wrong_database_is_reported(notion_emulator, make_notion_sync):
    tracks = legacy_track_properties()
    catalog = _catalog(notion_emulator, tracks, PLAYLIST_PROPERTIES)
    _, elsewhere = notion_emulator.create_database("Elsewhere", {"Name": {"title": {}}})
    notion_emulator.relate(catalog.tracks_data_source_id, "Playlists", elsewhere, "Tracks")
    with pytest.raises(SchemaError, match="relation 'Playlists' points to"):
        make_notion_sync(catalog).schemas()


def test_mapping_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown field"):
        SchemaMapping.from_dict({"tracks": {"bpmm": "BPM"}})
    with pytest.raises(ValueError, match="unknown section"):
        SchemaMapping.from_dict({"songs": {}})
    mapping = SchemaMapping.from_dict({"tracks": {"Tempo": "BPM"}})  # default names work too
    assert mapping.tracks == {"Tempo": "BPM"}


def test_mapping_from_yaml(tmp_path):
    path = tmp_path / "notion-mapping.yaml"
    path.write_text("tracks:\n  tempo: BPM\n  eagle_id: null\nplaylists:\n  curator: Owner\n")
    mapping = SchemaMapping.from_yaml(path)
    assert mapping.tracks == {"tempo": "BPM", "eagle_id": None}
    assert mapping.playlists == {"curator": "Owner"}


def test_init_databases_creates_a_working_pair(notion_emulator, notion_state):
    gateway = NotionGateway(
        notion_emulator.token,
        base_url=notion_emulator.base_url,
        limiter=SharedRateLimiter(500, None, burst=10),
    )
    tracks_db, playlists_db = init_databases(
        "11111111-2222-4333-8444-555555555555", gateway=gateway
    )
    tracks_ds = notion_emulator.databases[tracks_db]["data_sources"][0]
    playlists_ds = notion_emulator.databases[playlists_db]["data_sources"][0]
    tracks_props = notion_emulator.data_sources[tracks_ds]["properties"]
    playlist_props = notion_emulator.data_sources[playlists_ds]["properties"]
    assert (
        tracks_props["Playlists"]["relation"]["dual_property"]["synced_property_name"] == "Tracks"
    )
    assert playlist_props["Tracks"]["type"] == "relation"
    options = [o["name"] for o in playlist_props["Sync Status"]["select"]["options"]]
    assert options == ["Synced", "Partial", "Failed"]

    sync = NotionCatalogSync(
        gateway, tracks_database_id=tracks_db, playlists_database_id=playlists_db
    )
    tracks, _ = sync.schemas()
    assert tracks.warnings == []  # every field has its property
    report = sync.upsert_playlist(make_playlist(track_count=3), make_track_rows(3))
    assert report.created == 3
    assert len(notion_emulator.plain(report.playlist_page_id)["Tracks"]) == 3


def test_token_never_leaks(notion_emulator, notion_catalog, notion_state, caplog, capsys):
    secret = "secret_ABCDEF_do_not_print"
    gateway = NotionGateway(
        secret,
        base_url=notion_emulator.base_url,
        state_dir=notion_state,
        limiter=SharedRateLimiter(500, notion_state, burst=10),
    )
    sync = NotionCatalogSync(
        gateway,
        tracks_database_id=notion_catalog.tracks_database_id,
        playlists_database_id=notion_catalog.playlists_database_id,
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotionError) as caught:
        sync.schemas()
    assert caught.value.status == 401 and caught.value.code == "unauthorized"
    texts = [str(caught.value), repr(gateway), repr(sync.gateway.limiter), caplog.text]
    texts += list(capsys.readouterr())
    texts += [p.read_text(errors="replace") for p in notion_state.rglob("*") if p.is_file()]
    assert not any(secret in t for t in texts)


def test_init_databases_from_plain_values(notion_emulator, notion_state):
    tracks_db, playlists_db = init_databases(
        "11111111-2222-4333-8444-555555555555",
        token=notion_emulator.token,
        base_url=notion_emulator.base_url,
        requests_per_second=500,
        state_dir=notion_state,
    )
    assert {tracks_db, playlists_db} <= set(notion_emulator.databases)
    with pytest.raises(ValueError, match="NOTION_TOKEN"):
        init_databases("11111111-2222-4333-8444-555555555555", token="")


def test_status_property_must_have_our_options(notion_emulator, make_notion_sync):
    playlists = dict(PLAYLIST_PROPERTIES)
    playlists["Sync Status"] = {"status": {"options": [{"name": "Synced"}, {"name": "Todo"}]}}
    catalog = _catalog(notion_emulator, legacy_track_properties(), playlists)
    notion_emulator.relate(
        catalog.tracks_data_source_id, "Playlists", catalog.playlists_data_source_id, "Tracks"
    )
    with pytest.raises(SchemaError, match="lacks option\\(s\\) Partial, Failed"):
        make_notion_sync(catalog).schemas()


@pytest.mark.parametrize(("ptype", "empty"), [("multi_select", []), ("rich_text", "")])
def test_an_emptied_clearable_property_is_sent_empty(ptype, empty):
    """djay's playlists of a track are the whole truth: a track in none gets the property
    emptied; an absent value, and an empty one of a property a person may type in,
    are still left out."""
    from soundcloud_sync.notion.schema import (
        TRACK_FIELDS,
        differs,
        encode_all,
        owned_values,
        resolve_schema,
    )

    live = {
        "djay Playlists": {"id": "dp", "type": ptype},
        "Album": {"id": "al", "type": "rich_text"},
    }
    schema, _ = resolve_schema("Music Tracks", "ds", live, TRACK_FIELDS, SchemaMapping(), "tracks")
    both = ("djay", "track")
    assert owned_values(schema, {"djay_playlists": ["Warmup", "Peak"]}, both) == {
        "djay Playlists": ["Peak", "Warmup"] if ptype == "multi_select" else "Warmup, Peak"
    }
    emptied = owned_values(schema, {"djay_playlists": [], "album": ""}, both)
    assert emptied == {"djay Playlists": empty}
    assert encode_all(schema, emptied) == {"djay Playlists": {ptype: []}}
    assert owned_values(schema, {"album": "A"}, both) == {"Album": "A"}  # not given: not sent
    page = {"properties": {"djay Playlists": {"type": ptype, ptype: []}}}
    assert not differs(schema, emptied, page)  # an empty property reads back as empty
