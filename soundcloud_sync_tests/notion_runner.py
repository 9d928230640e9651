"""A sync run in its own process, for the crash-safety tests and the benchmark.

``python -m soundcloud_sync_tests.notion_runner CONFIG.json``: upserts a synthetic
playlist into the Notion emulator named in the config, remembering pages in a
JSON-lines "catalog" (one line per settled track, flushed and fsynced at once, as
the real catalog commits), and prints the report as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from soundcloud_sync.notion import KnownPage, NotionCatalogSync, NotionGateway, TrackResult
from soundcloud_sync.notion.limiter import SharedRateLimiter
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows


def load_catalog(path: Path) -> tuple[dict[int, KnownPage], str | None]:
    known: dict[int, KnownPage] = {}
    playlist_page = None
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line torn by the kill
            if "playlist_page_id" in item:
                playlist_page = item["playlist_page_id"]
            elif item.get("page_id") and item.get("status") != "error":
                known[int(item["soundcloud_id"])] = KnownPage(
                    item["page_id"], item.get("hash"), bool(item.get("linked"))
                )
    return known, playlist_page


def main(config_path: str) -> int:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    catalog = Path(config["catalog"])
    known, playlist_page = load_catalog(catalog)
    state = Path(config["state_dir"])
    gateway = NotionGateway(
        config["token"],
        base_url=config["base_url"],
        state_dir=state,
        limiter=SharedRateLimiter(config["rate"], state, burst=config.get("burst", 1)),
        timeout_s=config.get("timeout_s", 30.0),
    )
    sync = NotionCatalogSync(
        gateway,
        tracks_database_id=config["tracks_database_id"],
        playlists_database_id=config["playlists_database_id"],
    )
    rows = make_track_rows(config["tracks"])
    playlist = make_playlist(track_count=len(rows))
    with catalog.open("a") as out:

        def remember(result: TrackResult) -> None:
            out.write(json.dumps(result.__dict__) + "\n")
            out.flush()
            os.fsync(out.fileno())

        report = sync.upsert_playlist(
            playlist,
            rows,
            known=known,
            playlist_page_id=playlist_page,
            max_concurrent=config.get("max_concurrent", 4),
            on_page=remember,
        )
        out.write(json.dumps({"playlist_page_id": report.playlist_page_id}) + "\n")
    print(json.dumps({**report.stats(), "gateway": dict(gateway.stats)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
