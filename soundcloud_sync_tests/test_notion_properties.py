"""Availability, Camelot and the Key notation in Notion; 429s waited out; the
settings and the property-mapping file as the README documents them."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundcloud_sync.config import ConfigError, Settings
from soundcloud_sync.notion import (
    NotionCatalogSync,
    NotionError,
    NotionGateway,
    SchemaMapping,
    SharedRateLimiter,
    init_databases,
)
from soundcloud_sync.steps.notion import property_mapping
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows

ROOT = Path(__file__).resolve().parents[1]


def gateway_for(emulator: NotionEmulator, **kw) -> NotionGateway:
    limiter = SharedRateLimiter(500, None, burst=10)
    return NotionGateway(emulator.token, base_url=emulator.base_url, limiter=limiter, **kw)


def add_properties(emulator: NotionEmulator, catalog: SeededCatalog, spec: dict) -> None:
    """What a user does in Notion's UI: add properties to Music Tracks."""
    gateway_for(emulator).client.data_sources.update(catalog.tracks_data_source_id, properties=spec)


def test_a_429_storm_longer_than_the_retries_is_waited_out(notion_emulator, notion_catalog):
    notion_emulator.faults.retry_after = 0
    notion_emulator.script("POST", "/v1/pages", "429", times=20)
    gateway = gateway_for(notion_emulator, max_attempts=3)
    page = gateway.create_page(notion_catalog.tracks_data_source_id, {})
    assert page["object"] == "page" and gateway.stats["rate_limited"] == 20


def test_rate_limit_budget_spent_fails_naming_the_429(notion_emulator, notion_catalog):
    notion_emulator.faults.retry_after = 1
    notion_emulator.script("GET", "/v1/data_sources/{id}", "429", times=20)
    gateway = gateway_for(notion_emulator, rate_limit_budget_s=1.5)
    with pytest.raises(NotionError, match=r"429.*still rate limited"):
        gateway.retrieve_data_source(notion_catalog.tracks_data_source_id)


def test_init_creates_availability_and_camelot(notion_emulator):
    gateway = gateway_for(notion_emulator)
    tracks_db, _ = init_databases("11111111-2222-4333-8444-555555555555", gateway=gateway)
    ds = notion_emulator.databases[tracks_db]["data_sources"][0]
    props = notion_emulator.data_sources[ds]["properties"]
    options = [o["name"] for o in props["Availability"]["select"]["options"]]
    assert options == ["available", "preview-only", "geo-blocked", "drm", "gone"]
    assert props["Camelot"]["type"] == "rich_text"


def test_a_database_without_availability_gets_one_warning_and_the_rest(
    notion_emulator, notion_catalog, make_notion_sync
):
    rows = [{**r, "availability": "preview-only"} for r in make_track_rows(4)]
    report = make_notion_sync().upsert_playlist(make_playlist(track_count=4), rows)
    assert report.created == 4 and report.errors == 0
    about = [w for w in report.warnings if "Availability" in w]
    assert len(about) == 1 and "not written" in about[0]


@pytest.mark.parametrize(
    ("notation", "shown"),
    [("standard", "A minor"), ("camelot", "8A"), ("both", "A minor (8A)")],
)
def test_key_in_the_chosen_notation_and_camelot_written_back(
    notion_emulator, notion_catalog, notion_state, notation, shown
):
    add_properties(
        notion_emulator,
        notion_catalog,
        {"Camelot": {"rich_text": {}}, "Availability": {"select": {"options": []}}},
    )
    gateway = gateway_for(notion_emulator, state_dir=notion_state)
    sync = NotionCatalogSync(
        gateway,
        tracks_database_id=notion_catalog.tracks_database_id,
        playlists_database_id=notion_catalog.playlists_database_id,
        key_notation=notation,
    )
    report = sync.upsert_playlist(make_playlist(track_count=1), make_track_rows(1))
    [track] = report.tracks
    row = {
        "soundcloud_id": track.soundcloud_id,
        "page_id": track.page_id,
        "key": "A minor",
        "camelot": "8A",
        "availability": "preview-only",
    }
    assert sync.update_enrichment([row]).updated == 1
    page = notion_emulator.plain(track.page_id)
    assert (page["Key"], page["Camelot"], page["Availability"]) == (shown, "8A", "preview-only")


def test_key_notation_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("SOUNDCLOUD_SYNC_HOME", str(tmp_path))
    monkeypatch.delenv("NOTION_KEY_NOTATION", raising=False)
    assert Settings.from_env().notion_key_notation == "standard"
    monkeypatch.setenv("NOTION_KEY_NOTATION", "Both")
    assert Settings.from_env().notion_key_notation == "both"
    monkeypatch.setenv("NOTION_KEY_NOTATION", "roman")
    with pytest.raises(ConfigError) as err:
        Settings.from_env()
    assert "NOTION_KEY_NOTATION" in str(err.value) and "\n" not in str(err.value)


def test_the_documented_mapping_file_is_what_the_setting_reads(
    notion_emulator, notion_state, monkeypatch, tmp_path
):
    """NOTION_PROPERTY_MAPPING names a YAML file: the README's example works as given."""
    from soundcloud_sync_tests.emulators.notion import seed_music_catalog

    example = ROOT / "docs" / "notion-mapping.example.yaml"
    assert "NOTION_PROPERTY_MAPPING" in (ROOT / "README.md").read_text()
    monkeypatch.setenv("SOUNDCLOUD_SYNC_HOME", str(tmp_path))
    monkeypatch.setenv("NOTION_PROPERTY_MAPPING", str(example))
    mapping = property_mapping(Settings.from_env().notion_mapping_file)
    assert isinstance(mapping, SchemaMapping) and mapping.tracks["tempo"] == "BPM"

    catalog = seed_music_catalog(notion_emulator, variant="aliases")
    sync = NotionCatalogSync(
        gateway_for(notion_emulator, state_dir=notion_state),
        tracks_database_id=catalog.tracks_database_id,
        playlists_database_id=catalog.playlists_database_id,
        mapping=mapping,
    )
    tracks, _ = sync.schemas()
    assert tracks.props["tempo"].name == "BPM"
