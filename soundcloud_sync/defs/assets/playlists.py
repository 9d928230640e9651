"""SoundCloud → catalog: the playlist and its track entries.

The catalog is the one store: these assets write the playlist and its tracks there and
report what they wrote as metadata; the assets downstream read the catalog.
"""

from collections import Counter
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ...catalog import Catalog, MembershipChange
from ...sources import (
    Playlist,
    SourceError,
    is_djay_key,
    is_spotify_key,
    parse_playlist_url,
    public_url,
)
from ...steps import listing
from ..partitions import playlists_partitions
from ..resources import CatalogResource, SoundCloudResource, SpotifyResource
from .common import markdown_table

PREVIEW_COLUMNS = ["position", "title", "artist", "genre", "duration_ms", "availability"]


def playlist_url_for(catalog: CatalogResource, key: str) -> str:
    """The URL to read for a partition: the registered one (it may carry a secret token)."""
    row = catalog.catalog().playlist(key)
    return row["url"] if row else parse_playlist_url(key).url


@multi_asset(
    specs=[
        AssetSpec(
            "playlist_metadata",
            description="The playlist itself: name, curator, artwork, track count, set type.",
            group_name="soundcloud",
            partitions_def=playlists_partitions,
        ),
        AssetSpec(
            "playlist_tracks",
            description="One catalog row per track in playlist order, with availability.",
            group_name="soundcloud",
            partitions_def=playlists_partitions,
            deps=["playlist_metadata"],
        ),
    ],
    pool="soundcloud_api",
)
def playlist_assets(
    context: AssetExecutionContext,
    soundcloud: SoundCloudResource,
    spotify: SpotifyResource,
    catalog: CatalogResource,
):
    """Read the playlist (SoundCloud: 1 resolve + 1 batch per 50 tracks; a user's likes
    or uploads: 1 resolve + 1 per 200 entries; tracks added by hand: 1 batch per 50, 1
    resolve per new one; Spotify: 1 request, plus 1 per 50 entries when its snapshot
    changed) and record it."""
    key = context.partition_key
    if is_djay_key(key):  # listed by the djay sync, from djay's file (defs.assets.djay)
        yield from djay_listing(catalog.catalog(), key)
        return
    url = playlist_url_for(catalog, key)
    store = catalog.catalog()
    resolved: dict[str, int] = {}  # hand-picked tracks read for the first time
    listing_requests = 0  # api-v2 requests of this read
    try:
        if is_spotify_key(key):
            playlist = read_spotify_playlist(spotify, store, key, url)
            if playlist is None:
                lookups = spotify_only_lookups(context, soundcloud, store, key)
                yield from unchanged_spotify_playlist(context, store, key, lookups)
                return
        else:
            with soundcloud.client() as client:
                playlist, resolved = listing.read_soundcloud(client, store, url)
            listing_requests = int(client.budget.stats()["requests"])
    except SourceError as exc:
        raise Failure(description=str(exc)) from exc
    if playlist.key != key:
        raise Failure(description=f"{url}: resolves to playlist {playlist.key!r}, not {key!r}")
    change = store.record_playlist(playlist)
    if resolved:
        store.resolve_picks(key, resolved)
    lookups = spotify_only_lookups(context, soundcloud, store, key) if playlist.spotify_id else {}
    tracks = [t.to_row() for t in playlist.tracks]
    availability = Counter(t["availability"] for t in tracks)
    link = MetadataValue.url(public_url(playlist.url))
    yield MaterializeResult(
        asset_key="playlist_metadata",
        metadata={
            "name": playlist.title,
            "curator": playlist.curator or "",
            "track_count": playlist.track_count,
            "set_type": playlist.set_type or "",
            "last_modified": playlist.last_modified or "",
            "playlist_url": link,
        },
    )
    yield MaterializeResult(
        asset_key="playlist_tracks",
        metadata={
            "dagster/row_count": len(tracks),
            "track_count": playlist.track_count,
            "new_tracks": len(change.added),
            "removed_tracks": len(change.removed),
            "hidden_tracks": len(change.hidden),
            "ids_complete": playlist.ids_complete,
            "removals_trusted": change.removals_trusted,
            "soundcloud_requests": listing_requests,
            **spotify_metadata(playlist, change),
            **skipped_metadata(playlist),
            **lookups,
            **{f"availability/{k}": v for k, v in sorted(availability.items())},
            "playlist_url": link,
            "preview": MetadataValue.md(markdown_table(tracks[:25], PREVIEW_COLUMNS)),
        },
    )
    if not change.removals_trusted:
        context.log.warning(
            f"{key}: SoundCloud lists {len(tracks)} of {playlist.track_count} tracks and the "
            "change in its track count does not tell removed tracks from deleted or private "
            "ones; nothing is unlinked until a later listing explains it"
        )
    for entry in playlist.skipped:
        context.log.info(f"{key}: entry {entry.position} ({entry.name or 'no name'}) skipped: "
                         f"{entry.reason}")  # fmt: skip
    for match in change.possible_matches:
        context.log.warning(
            f"{key}: {match['artist']} - {match['title']} may be SoundCloud track "
            f"{match['soundcloud_id']} ({match['soundcloud_title']}): no ISRC to prove it, "
            "so it keeps a page of its own"
        )


def djay_listing(store: Catalog, key: str):
    """A djay playlist's listing as the last djay sync recorded it (djay's file is read
    by that sync alone)."""
    row = store.playlist(key)
    if row is None:
        raise Failure(description=f"{key}: not read yet; run `soundcloud-sync sync djay`")
    yield MaterializeResult(
        asset_key="playlist_metadata",
        metadata={
            "name": row["title"] or key,
            "track_count": row["track_count"] or 0,
            "source": "djay",
        },
    )
    yield MaterializeResult(
        asset_key="playlist_tracks",
        metadata={"dagster/row_count": len(store.playlist_tracks(key)), "source": "djay"},
    )


def read_spotify_playlist(
    spotify: SpotifyResource, store: Catalog, key: str, url: str
) -> Playlist | None:
    """The Spotify playlist with its entries, or None when its snapshot is the one the
    catalog already holds (one request, plus the token's)."""
    if not spotify.enabled:
        raise SourceError(
            url, "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set to read Spotify playlists"
        )
    client = spotify.client()
    try:
        return listing.read_spotify(client, store, key, url)
    finally:
        client.close()


def spotify_only_lookups(
    context: AssetExecutionContext, soundcloud: SoundCloudResource, store: Catalog, key: str
) -> dict[str, Any]:
    """Recordings known only from Spotify, looked up on SoundCloud by ISRC (a bounded
    number per run), as metadata."""
    if not store.unsearched_without_soundcloud(key, 1):
        return {}
    try:
        with soundcloud.client() as client:
            found = listing.find_on_soundcloud(client, store, key)
    except SourceError as exc:  # SoundCloud busy: looked up again next run
        context.log.warning(f"{key}: SoundCloud lookups stopped: {exc}")
        return {}
    for hit in found["found_on_soundcloud"]:
        context.log.info(f"{key}: {hit['title']} found on SoundCloud ({hit['soundcloud_url']})")
    return {**found, "found_on_soundcloud": MetadataValue.json(found["found_on_soundcloud"])}


def unchanged_spotify_playlist(
    context: AssetExecutionContext, store: Catalog, key: str, lookups: dict[str, Any]
):
    """What the step reports when Spotify says nothing changed: the catalog's listing."""
    store.mark_checked(key)
    row = store.playlist(key) or {}
    context.log.info(f"{key}: snapshot unchanged since the last listing; entries not read")
    link = MetadataValue.url(public_url(row.get("url") or key))
    yield MaterializeResult(
        asset_key="playlist_metadata",
        metadata={"name": row.get("title") or "", "unchanged": True, "playlist_url": link},
    )
    yield MaterializeResult(
        asset_key="playlist_tracks",
        metadata={"dagster/row_count": int(row.get("tracks_listed") or 0), "unchanged": True,
                  "new_tracks": 0, "removed_tracks": 0, "playlist_url": link, **lookups},
    )  # fmt: skip


def skipped_metadata(playlist: Playlist) -> dict[str, Any]:
    """A SoundCloud user's liked playlists: entries of the listing that are no track."""
    if playlist.spotify_id is not None or not playlist.skipped:
        return {}
    skipped = [{"position": e.position, "name": e.name, "reason": e.reason}
               for e in playlist.skipped]  # fmt: skip
    return {"skipped_entries": len(skipped), "skipped": MetadataValue.json(skipped)}


def spotify_metadata(playlist: Playlist, change: MembershipChange) -> dict[str, Any]:
    """Entries skipped, recordings found on SoundCloud by ISRC, and possible matches."""
    if playlist.spotify_id is None:
        return {}
    skipped = [{"position": e.position, "name": e.name, "reason": e.reason}
               for e in playlist.skipped]  # fmt: skip
    return {
        "skipped_entries": len(skipped),
        "skipped": MetadataValue.json(skipped),
        "merged_by_isrc": len(change.merged),
        "possible_matches": len(change.possible_matches),
        "possible_match_list": MetadataValue.json(change.possible_matches),
        "snapshot_id": playlist.snapshot_id or "",
    }
