"""djay Pro in Dagster: the job that syncs the library, and the sensor that notices it changed.

The sensor only stats the file and its WAL (mtime and size): no read, no lock, nothing
djay could notice. A changed fingerprint requests one run of `sync_djay`.
"""

import json
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from .assets.djay import DJAY_ASSET
from .resources import CatalogResource, DjayResource

sync_djay_job = define_asset_job(
    "sync_djay",
    selection=AssetSelection.assets(DJAY_ASSET, "rekordbox_collection"),
    description="Read djay Pro's library into the catalog and Notion, then rewrite the "
    "rekordbox collection (the DJ's tempo corrections included).",
)


def library_fingerprint(path: Path) -> list[list[int]] | None:
    """(mtime ns, size) of the library and its WAL; None when there is no library."""
    parts = []
    for part in (path, Path(f"{path}-wal")):
        try:
            st = part.stat()
        except FileNotFoundError:
            if part == path:
                return None
            continue
        parts.append([st.st_mtime_ns, st.st_size])
    return parts


@sensor(
    job=sync_djay_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests a djay sync when djay Pro's library file changes (mtime/size).",
)
def djay_library_sensor(
    context: SensorEvaluationContext, catalog: CatalogResource, djay: DjayResource
):
    path = djay.path(catalog.catalog())
    fingerprint = library_fingerprint(path)
    if fingerprint is None:
        return SkipReason(f"no djay library at {path}")
    cursor = json.dumps({"path": str(path), "stat": fingerprint})
    if cursor == context.cursor:
        return SkipReason("djay's library is unchanged")
    context.update_cursor(cursor)
    return RunRequest(run_key=cursor)
