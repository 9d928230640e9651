"""Library → Eagle: each library file imported once into the Eagle app."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from ...catalog import display_name
from ...steps import eagle as eagle_steps
from ..partitions import playlists_partitions
from ..resources import CatalogResource, EagleResource, LibraryResource
from .common import live_tracks, status_counts, step_progress


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    deps=["library_files"],
    description="Each library file imported once into Eagle (when Eagle is running).",
)
def eagle_items(
    context: AssetExecutionContext,
    eagle: EagleResource,
    catalog: CatalogResource,
    library: LibraryResource,
) -> MaterializeResult:
    from ...eagle import EagleClient

    if not eagle.api_url:
        context.log.info("EAGLE_API_URL is off: Eagle import skipped")
        return MaterializeResult(metadata={"eagle": "off"})
    key = context.partition_key
    store = catalog.catalog()
    playlist = store.playlist(key) or {}
    with EagleClient(eagle.api_url) as client:
        status = client.status()
        if not status.running:
            message = (
                f"{status.message}: Eagle import skipped (open Eagle, or set EAGLE_API_URL "
                "to where it listens; EAGLE_API_URL=off stops asking)"
            )
            context.log.info(message)
            return MaterializeResult(metadata={"eagle": message})
        tracks = [t for t in live_tracks(catalog, key) if t.files]
        rows = eagle_steps.import_into_eagle(
            client,
            store,
            tracks,
            folder=display_name(playlist) or key,
            formats=library.formats,
            progress=step_progress(context),
        )
    return MaterializeResult(
        metadata={
            "eagle": f"running at {eagle.api_url}",
            **status_counts(r["status"] for r in rows),
        }
    )
