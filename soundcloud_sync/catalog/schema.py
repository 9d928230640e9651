"""The catalog's tables (SQLAlchemy Core) and their versioned migrations.

Plain types only, so the same schema runs on SQLite (one machine) and PostgreSQL
(many). Timestamps are ISO-8601 UTC strings: portable and they sort.

One recording, one row, whatever service it came from (SoundCloud, Spotify, djay Pro…).
A row's key, ``recording_id``, is the catalog's own number for the recording, and each
service's identity sits in its own column beside it: ``soundcloud_id`` (unique),
``spotify_id`` (unique), ``spotify_url``, and ``isrc``, which is how two services'
listings of one recording are told to be one (equal ISRCs, compared without regard to
case). A recording keeps its number when another service's identity joins it.

Numbers are handed out inside the transaction that first records the recording (so a
crash leaves no half-made id, and a re-run finds the row again by a service's id): a
recording first seen on SoundCloud takes SoundCloud's id as its number (positive), any
other the next number below the lowest in use. Catalogs made before version 13 keyed
rows by a column named ``soundcloud_id`` holding those same numbers; migration 13 renamed
it in place, so every row, membership and link kept its number.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
    update,
)

metadata = MetaData()

catalog_meta = Table(
    "catalog_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

playlists = Table(
    "playlists",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("url", Text, nullable=False),
    # Not read since the Dagster partitions became the one registry; kept for old catalogs.
    Column("registered", Boolean, nullable=False, default=True),
    Column("registered_at", String(32)),
    Column("soundcloud_id", BigInteger),
    Column("title", Text),
    Column("name_override", Text),  # the user's name for it in Notion, when given
    Column("description", Text),
    Column("curator", Text),
    Column("curator_url", Text),
    Column("artwork_url", Text),
    Column("set_type", String(32)),
    Column("track_count", Integer),
    Column("tracks_listed", Integer),
    Column("ids_complete", Boolean),
    # Whether the last listing's vanished ids were explained (removals may be applied),
    # and the track_count the next listing is compared with (see catalog.listing).
    Column("listing_explained", Boolean),
    Column("explained_track_count", Integer),
    Column("ids_hash", String(64)),
    Column("created_at", String(32)),
    Column("last_modified", String(32)),
    Column("last_checked_at", String(32)),
    Column("last_synced_at", String(32)),
    Column("sync_status", String(16)),
    Column("notion_page_id", String(64)),
    Column("notion_page_url", Text),
    # which service the playlist lives on; Spotify's id and the version last listed
    Column("source", String(16)),
    Column("spotify_id", String(64)),
    Column("snapshot_id", String(128)),
)

tracks = Table(
    "tracks",
    metadata,
    Column("recording_id", BigInteger, primary_key=True, autoincrement=False),
    # the recording's identity on SoundCloud: where its audio is downloaded from
    # (unique index: v11)
    Column("soundcloud_id", BigInteger),
    Column("title", Text),
    Column("artist", Text),
    Column("uploader", Text),
    Column("url", Text),
    Column("duration_ms", BigInteger),
    Column("genre", Text),
    Column("tags", JSON),
    Column("isrc", String(32)),
    Column("album", Text),
    Column("artwork_url", Text),
    Column("created_at", String(32)),
    Column("last_modified", String(32)),
    Column("policy", String(16)),
    Column("monetization_model", String(32)),
    Column("downloadable", Boolean),
    Column("availability", String(16)),
    Column("first_seen_at", String(32)),
    Column("updated_at", String(32)),
    # Notion
    Column("notion_page_id", String(64)),
    Column("notion_hash", String(64)),
    # audio
    Column("download_status", String(16)),
    Column("download_reason", Text),
    Column("source_path", Text),
    Column("downloaded_at", String(32)),
    Column("files", JSON),
    Column("tempo", Float),
    Column("key", String(16)),  # "A minor": the name `analyze_file` and Notion use
    Column("camelot", String(4)),
    Column("key_confidence", Float),
    Column("duration_s", Float),
    Column("lufs", Float),
    Column("analyzed_at", String(32)),
    # beat grid and the analysis that measured it
    Column("tempo_confidence", Float),
    Column("first_beat_s", Float),
    Column("first_downbeat_s", Float),
    Column("analysis_version", String(16)),
    Column("tempo_range", String(16)),  # "150-185": the playlist's range it was measured in
    Column("eagle_id", String(64)),
    Column("enrichment_hash", String(64)),
    # DJ exports
    Column("dj_track_id", Integer),  # rekordbox TrackID, kept forever (unique index: v4)
    # the recording's identity on Spotify (unique index: v7)
    Column("spotify_id", String(64)),
    Column("spotify_url", Text),
    # when SoundCloud was last searched for a recording known only from Spotify
    Column("soundcloud_searched_at", String(32)),
    # djay Pro: the recording's titleID there (unique index: v9) and what djay knows
    # about it (see steps.djay); djay_manual_tempo is the DJ's correction of our tempo
    Column("djay_title_id", String(64)),
    Column("djay_source_uri", Text),
    Column("djay_tempo", Float),
    Column("djay_manual_tempo", Float),
    Column("djay_key", String(16)),
    Column("djay_camelot", String(4)),
    Column("djay_play_count", Integer),
    Column("djay_last_played", String(32)),
    Column("djay_rating", Integer),
    Column("djay_color", Integer),
    Column("djay_playlists", JSON),
    Column("djay_notion_hash", String(64)),  # the djay facts last written to its page
    # where the audio is (sources.streams): a download then costs one api-v2 request
    Column("transcodings", JSON),
)

memberships = Table(
    "memberships",
    metadata,
    Column("playlist_key", String(255), primary_key=True),
    Column("recording_id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
    Column("first_seen_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
    # When it joined the playlist: the service's word (Spotify's added_at, a like's time),
    # else the listing that first showed it when the playlist was listed before; None for
    # the tracks of a set's first listing (a set tells no such time). See `joined_at`.
    Column("added_at", String(32)),
    Column("removed_at", String(32)),
    # Still in the set but out of view (its uploader deleted it or made it private).
    Column("hidden_at", String(32)),
    Column("notion_linked", Boolean, nullable=False, default=False),
)


# Tracks added by hand to an uploader's singles listing (`<user>/singles`): the listing
# itself, since SoundCloud keeps no such list. ``url`` is the track's public permalink
# (one row per track however it was pasted); ``resolve_url`` adds a private track's
# secret token; ``soundcloud_id`` is filled in by the first run that reads it.
# (A track added again keeps its first place.)
picks = Table(
    "picks",
    metadata,
    Column("playlist_key", String(255), primary_key=True),
    Column("url", String(1024), primary_key=True),
    Column("resolve_url", Text, nullable=False),
    Column("soundcloud_id", BigInteger),
    Column("position", Integer, nullable=False),  # the order they were added in
    Column("added_at", String(32), nullable=False),
    Column("removed_at", String(32)),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn)


def _add_missing_columns(conn: Connection, table: Table, names: list[str]) -> list[str]:
    """ALTER TABLE … ADD COLUMN for each named column the live table lacks; the ones added.

    A fresh catalog already has them (`_v1_initial` creates today's tables), so this
    only does work on catalogs made by an older release.
    """
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    added = []
    for name in names:
        if name in present:
            continue
        column = table.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{name}" {kind}'))
        added.append(name)
    return added


def _v2_catalog_listing_columns(conn: Connection) -> None:
    """Remember hidden tracks and the last explained listing, so removals can be applied."""
    added = _add_missing_columns(conn, playlists, ["listing_explained", "explained_track_count"])
    _add_missing_columns(conn, memberships, ["hidden_at"])
    if "listing_explained" in added:  # an older catalog trusted only complete listings
        conn.execute(update(playlists).values(listing_explained=playlists.c.ids_complete))


def _v3_drop_asset_outputs(conn: Connection) -> None:
    """Step results now live in the tracks' own columns and in Dagster's metadata."""
    if inspect(conn).has_table("asset_outputs"):
        conn.execute(text("DROP TABLE asset_outputs"))


def _v4_export_columns(conn: Connection) -> None:
    """The beat grid the exports write and the stable rekordbox TrackID."""
    _add_missing_columns(conn, tracks, ["first_beat_s", "first_downbeat_s", "dj_track_id"])
    conn.execute(
        text("CREATE UNIQUE INDEX IF NOT EXISTS ix_tracks_dj_track_id ON tracks (dj_track_id)")
    )


def _v5_analysis_columns(conn: Connection) -> None:
    """The tempo's confidence, the beat grid and the version of the analysis that measured
    them, so tracks measured by an older version can be measured again."""
    _add_missing_columns(
        conn,
        tracks,
        ["tempo_confidence", "first_beat_s", "first_downbeat_s", "analysis_version"],
    )


def _v6_tempo_range_column(conn: Connection) -> None:
    """The tempo range a track was measured in, when its playlist sets one, so a changed
    range is measured again."""
    _add_missing_columns(conn, tracks, ["tempo_range"])


def _v7_spotify_identity(conn: Connection) -> None:
    """A recording's Spotify identity beside its SoundCloud one, and Spotify playlists'
    versions, so one recording keeps one row and an unchanged playlist is not re-read."""
    _add_missing_columns(conn, tracks, ["spotify_id", "spotify_url", "soundcloud_searched_at"])
    _add_missing_columns(conn, playlists, ["source", "spotify_id", "snapshot_id"])
    conn.execute(
        text("CREATE UNIQUE INDEX IF NOT EXISTS ix_tracks_spotify_id ON tracks (spotify_id)")
    )


def _v8_picks(conn: Connection) -> None:
    """Tracks added by hand, one listing per uploader."""
    picks.create(conn, checkfirst=True)


def _v9_key_column(conn: Connection) -> None:
    """One name per field: the measured key is ``key`` (as `analyze_file`, the rows, the
    tags and Notion call it), not ``musical_key``. Renamed in place: every value stays."""
    present = {c["name"] for c in inspect(conn).get_columns(tracks.name)}
    if "musical_key" in present and "key" not in present:
        conn.execute(text('ALTER TABLE tracks RENAME COLUMN musical_key TO "key"'))


def _v10_membership_added_at(conn: Connection) -> None:
    """When each track joined its playlist, so a sync can leave out what joined before a
    given time (the seed's `sync_playlist_incremental(last_sync_time=…)`)."""
    _add_missing_columns(conn, memberships, ["added_at"])


DJAY_COLUMNS = [
    "djay_title_id", "djay_source_uri", "djay_tempo", "djay_manual_tempo", "djay_key",
    "djay_camelot", "djay_play_count", "djay_last_played", "djay_rating", "djay_color",
    "djay_playlists", "djay_notion_hash",
]  # fmt: skip


def _v11_djay(conn: Connection) -> None:
    """A recording's djay Pro identity and facts (play count, the DJ's own tempo…).

    The djay branch shipped this step as its version 9: a catalog it made says 9 but
    has neither the ``key`` rename nor ``added_at`` (nor has a version 9 made by the
    seed branch, whose 9 was ``added_at``). Those steps check first, so they run again.
    """
    _v9_key_column(conn)
    _v10_membership_added_at(conn)
    _add_missing_columns(conn, tracks, DJAY_COLUMNS)
    conn.execute(
        text("CREATE UNIQUE INDEX IF NOT EXISTS ix_tracks_djay_title_id ON tracks (djay_title_id)")
    )


def _v12_transcodings(conn: Connection) -> None:
    """Each track's transcodings, as its listing gave them: a download asks for one
    stream URL instead of resolving the track again.

    The budget branch shipped this column under other numbers: its catalogs say 9 (with
    ``musical_key`` and no ``added_at``) or 11 (without djay's columns). The earlier
    steps check first, so `_v11_djay` (which also renames the key and adds ``added_at``)
    runs again here."""
    _v11_djay(conn)
    _add_missing_columns(conn, tracks, ["transcodings"])


def _v13_recording_id(conn: Connection) -> None:
    """A neutral key for every recording: the column that keyed rows (named
    ``soundcloud_id`` although it held the catalog's own numbers, negative ones for
    recordings known only from Spotify) is renamed ``recording_id`` in ``tracks`` and
    ``memberships``, and SoundCloud's id gets a column of its own (filled in for the rows
    SoundCloud keyed: the positive numbers). Renamed in place: every row, membership,
    Notion page link and file keeps its number."""
    present = {c["name"] for c in inspect(conn).get_columns(tracks.name)}
    if "recording_id" not in present:
        conn.execute(text("ALTER TABLE tracks RENAME COLUMN soundcloud_id TO recording_id"))
        _add_missing_columns(conn, tracks, ["soundcloud_id"])
        conn.execute(
            update(tracks)
            .where(tracks.c.recording_id > 0)
            .values(soundcloud_id=tracks.c.recording_id)
        )
    present = {c["name"] for c in inspect(conn).get_columns(memberships.name)}
    if "recording_id" not in present:
        conn.execute(text("ALTER TABLE memberships RENAME COLUMN soundcloud_id TO recording_id"))
    conn.execute(
        text("CREATE UNIQUE INDEX IF NOT EXISTS ix_tracks_soundcloud_id ON tracks (soundcloud_id)")
    )


# Append-only: migration N brings the schema from version N-1 to N. Each step checks
# what is there first, so a catalog created fresh (by `_v1_initial`, from the current
# tables) passes through the later steps unchanged.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_initial,
    _v2_catalog_listing_columns,
    _v3_drop_asset_outputs,
    _v4_export_columns,
    _v5_analysis_columns,
    _v6_tempo_range_column,
    _v7_spotify_identity,
    _v8_picks,
    _v9_key_column,
    _v10_membership_added_at,
    _v11_djay,
    _v12_transcodings,
    _v13_recording_id,
]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(catalog_meta.name):
        return 0
    row = conn.execute(
        select(catalog_meta.c.value).where(catalog_meta.c.key == "schema_version")
    ).first()
    return int(row[0]) if row else 0


def migrate(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; refuse a catalog written by a newer release."""
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"catalog schema version {version} is newer than this release understands "
            f"({SCHEMA_VERSION}); upgrade soundcloud-sync"
        )
    for step in MIGRATIONS[version:]:
        step(conn)
    if version != SCHEMA_VERSION:
        conn.execute(catalog_meta.delete().where(catalog_meta.c.key == "schema_version"))
        conn.execute(catalog_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return SCHEMA_VERSION
