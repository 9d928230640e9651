"""What every asset step shares: the playlist's live tracks, progress lines and status
counts for the UI."""

from collections import Counter
from collections.abc import Iterable

from dagster import AssetExecutionContext

from ...catalog import TrackRow
from ...steps.progress import Progress, progress_message
from ..resources import CatalogResource


def live_tracks(catalog: CatalogResource, key: str) -> list[TrackRow]:
    """The playlist's tracks (those still in it), in playlist order, as the catalog holds them."""
    return catalog.catalog().playlist_rows(key)


def step_progress(context: AssetExecutionContext) -> Progress:
    """Progress lines in the run's log (the CLI draws a bar per stage from them) and
    run tags (`soundcloud-sync status` and the UI's run page show where a run stands)."""
    from ...instance.progress import ProgressTags

    tags = ProgressTags(context.instance, context.run.run_id)

    def report(stage: str, done: int, total: int) -> None:
        context.log.info(progress_message(stage, done, total))
        tags(stage, done, total)

    return report


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """`{"status/created": 3, …}`: one metadata entry per status, in a stable order."""
    return {f"status/{k}": v for k, v in sorted(Counter(statuses).items())}
