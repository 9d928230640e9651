"""What a run did, as the stats objects the Python API and the CLI return: the run's
figures (its assets' metadata) and the catalog's state of the playlist after it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..catalog import Catalog, TrackRow, display_name
from ..sources import parse_playlist_url
from .execute import RunOutcome


def reanalysis_stats(catalog: Catalog, key: str, outcome: RunOutcome) -> dict[str, Any]:
    """What a re-analysis run did: tracks measured, kept (already current), failed, and
    the Notion pages it updated."""
    from ..audio.analysis import ANALYSIS_VERSION

    playlist = catalog.playlist(key) or {}
    features = outcome.materialized.get("audio_features") or {}
    notion = outcome.materialized.get("notion_enrichment")
    return {
        "playlist_url": parse_playlist_url(playlist.get("url") or key).public_url,
        "playlist_name": display_name(playlist),
        "analysis_version": ANALYSIS_VERSION,
        "tempo_range": features.get("tempo_range"),
        "measured": features.get("status/measured", 0),
        "kept": features.get("status/kept", 0),
        "errors": features.get("status/error", 0),
        "notion_updated": notion.get("status/updated", 0) if notion else None,
        "notion": "synced" if notion is not None else "skipped",
    }


def playlist_stats(
    catalog: Catalog,
    key: str,
    outcome: RunOutcome | None,
    *,
    audio_formats: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The stats object: what the run reported (its assets' metadata), and the catalog's
    state of the playlist after it. Without a run (nothing changed) nothing was written."""
    playlist = catalog.playlist(key) or {}
    tracks = catalog.playlist_rows(key)
    pages = None
    if outcome is not None:  # what the Notion step reported, done or failed part-way
        pages = outcome.materialized.get("notion_track_pages") or outcome.failure_metadata.get(
            "notion_track_pages"
        )
    reported = pages or {}
    counts = Counter({k: v for k, v in reported.items() if isinstance(v, int)})
    if outcome is None:  # unchanged: every page the catalog knows was left as it is
        counts["skipped"] = sum(1 for t in tracks if t.notion_page_id)
    stats: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.get("url") or key).public_url,
        "playlist_name": display_name(playlist),
        "total_tracks": len(tracks),
        "tracks_added": counts["created"],
        "tracks_skipped": counts["skipped"],
        "tracks_updated": counts["updated"] + counts["linked"],
        "tracks_unlinked": counts["unlinked"],
        "errors": counts["errors"] + len(unwritten := unwritten_files(outcome)),
        "failed_tracks": [*(reported.get("failed_tracks") or []), *unwritten],
        "unreadable": counts["unreadable"],
        "unreadable_tracks": reported.get("unreadable_tracks") or [],
        "tracks_left_out": counts["left_out"],
        "track_ids": [t.notion_page_id for t in tracks if t.notion_page_id],
        "notion": "synced"
        if pages is not None
        else ("unchanged" if outcome is None else "skipped"),
        "sync_status": playlist.get("sync_status"),
    }
    if playlist.get("source") == "spotify":
        stats.update(spotify_stats(outcome))
    elif outcome is not None and "skipped" in (outcome.materialized.get("playlist_tracks") or {}):
        # a SoundCloud user's liked playlists: entries that are no track
        stats["skipped_entries"] = outcome.materialized["playlist_tracks"]["skipped"]
    if audio_formats:  # the audio chain ran
        stats.update(audio_stats(tracks, audio_formats))
        stats.update(request_stats(outcome))
    return stats


def request_stats(outcome: RunOutcome | None) -> dict[str, Any]:
    """The run's api-v2 requests (the listing's, the downloads') and the tracks yt-dlp
    fetched where the one-request path failed: what a budget is spent on."""
    steps = (outcome.materialized if outcome else {}) | (
        outcome.failure_metadata if outcome else {}
    )
    listing = (outcome.materialized.get("playlist_tracks") if outcome else None) or {}
    downloads = steps.get("audio_files") or {}
    return {
        "soundcloud_requests": {
            "listing": listing.get("soundcloud_requests", 0),
            "download": downloads.get("soundcloud_requests", 0),
        },
        "ytdlp_fallbacks": downloads.get("ytdlp_fallbacks", 0),
    }


# The steps that write audio files: all or an error, as the Notion step.
FILE_STEPS = ("audio_files", "library_files")


def unwritten_files(outcome: RunOutcome | None) -> list[dict[str, Any]]:
    """The tracks a file step could not write (disk full, read-only…), with the reason."""
    if outcome is None:
        return []
    return [
        track
        for step in FILE_STEPS
        for track in (outcome.failure_metadata.get(step) or {}).get("failed_tracks") or []
    ]


def spotify_stats(outcome: RunOutcome | None) -> dict[str, Any]:
    """What the listing step said of a Spotify playlist: entries that are no track, the
    recordings found on SoundCloud by ISRC, and look-alikes left for a person to judge."""
    listed = (outcome.materialized.get("playlist_tracks") if outcome else None) or {}
    return {
        "skipped_entries": listed.get("skipped") or [],
        "merged_by_isrc": listed.get("merged_by_isrc", 0),
        "possible_matches": listed.get("possible_match_list") or [],
        "spotify_unchanged": bool(listed.get("unchanged")) if outcome else True,
    }


def audio_stats(tracks: list[TrackRow], formats: tuple[str, ...]) -> dict[str, int]:
    """Where the playlist's audio stands: on disk, measured, in every format, or why not."""
    status = Counter(t.download_status for t in tracks)
    return {
        "downloaded": sum(1 for t in tracks if t.has_audio),
        "analysed": sum(1 for t in tracks if t.is_measured),
        "converted": sum(1 for t in tracks if set(formats) <= set(t.files)),
        "previews": status["preview-only"],
        "unavailable": status["geo-blocked"] + status["drm"] + status["gone"],
        "no_source": status["no-source"],  # not on SoundCloud: nothing to download
        "download_errors": status["error"],
    }
