"""What every asset step shares: the playlist's live tracks, progress lines, status
counts and tables for the UI."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The rows as a markdown table of ``columns`` ("none" for no rows), for
    ``MetadataValue.md``: tabulate's "pipe" table, as pandas' ``to_markdown`` writes it,
    without loading pandas into every run's process for a few small tables."""
    from tabulate import tabulate

    body = [[row.get(c) for c in columns] for row in rows]
    return tabulate(body, headers=list(columns), tablefmt="pipe") if body else "none"


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """`{"status/created": 3, …}`: one metadata entry per status, in a stable order."""
    return {f"status/{k}": v for k, v in sorted(Counter(statuses).items())}
