"""Library → DJ software: an M3U8 per playlist and one rekordbox XML collection.

Side effects only: the files are the output and the catalog is the store, so these
assets return `MaterializeResult` and order themselves with `deps=`.
"""

from pathlib import Path

from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ...config import parse_path_map
from ...export import export_playlist_m3u8, export_rekordbox
from ..partitions import playlists_partitions
from ..resources import CatalogResource, DjExportResource, LibraryResource


@asset(
    partitions_def=playlists_partitions,
    deps=["library_files"],
    group_name="export",
    description="The playlist as an extended M3U8 (library/playlists/<name>.m3u8), in "
    "order, one entry per track with a library file, paths relative to the file.",
)
def playlist_m3u8(
    context: AssetExecutionContext,
    catalog: CatalogResource,
    library: LibraryResource,
    dj_export: DjExportResource,
) -> MaterializeResult:
    try:
        report = export_playlist_m3u8(
            catalog.catalog(),
            library.formats,
            context.partition_key,
            Path(dj_export.playlists_dir),
            parse_path_map(dj_export.path_map),
        )
    except LookupError as exc:
        raise Failure(str(exc)) from exc
    return MaterializeResult(
        metadata={"tracks": report.tracks, "path": MetadataValue.path(str(report.path))}
    )


@asset(
    deps=[AssetDep("playlist_m3u8", partition_mapping=AllPartitionMapping()), "djay_library"],
    group_name="export",
    description="The whole library as a rekordbox XML collection (library/rekordbox.xml): "
    "tracks with tempo, key and beat grid, one playlist per synced playlist.",
)
def rekordbox_collection(
    catalog: CatalogResource, library: LibraryResource, dj_export: DjExportResource
) -> MaterializeResult:
    report = export_rekordbox(
        catalog.catalog(),
        library.formats,
        Path(dj_export.collection_path),
        parse_path_map(dj_export.path_map),
    )
    return MaterializeResult(
        metadata={
            "tracks": report.tracks,
            "tracks_with_grid": report.with_grid,
            "playlists": report.playlists,
            "path": MetadataValue.path(str(report.path)),
        }
    )
