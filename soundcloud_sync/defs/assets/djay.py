"""djay Pro's library → catalog → Notion (and the DJ's tempo into our files and exports)."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ...errors import SoundCloudSyncError
from ...steps.djay import sync_library
from ..partitions import PLAYLISTS
from ..resources import CatalogResource, DjayResource, NotionResource

DJAY_ASSET = "djay_library"
AGREEMENT_CHECK = "djay_analysis_agrees"


def _lines(lines: list[str], limit: int = 50) -> MetadataValue:
    shown = lines[:limit] + ([f"… and {len(lines) - limit} more"] if len(lines) > limit else [])
    return MetadataValue.md("\n".join(f"- {line}" for line in shown) or "none")


@asset(
    name=DJAY_ASSET,
    group_name="djay",
    pool="notion_api",
    check_specs=[AssetCheckSpec(AGREEMENT_CHECK, asset=DJAY_ASSET)],
    description="djay Pro's library (read, never written): each track on its recording in "
    "the catalog (service URI, ISRC, our file) or a new one, a Notion page per recording "
    "with djay's BPM, key, play count, last played, rating, colour and playlists; the "
    "DJ's own tempo in Tempo, the file tags and the exports.",
)
def djay_library(
    context: AssetExecutionContext,
    catalog: CatalogResource,
    notion: NotionResource,
    djay: DjayResource,
):
    store = catalog.catalog()
    path = djay.path(store)
    if not notion.enabled:
        context.log.warning(notion.disabled_reason)
    try:
        report = sync_library(
            path,
            store,
            notion.sync() if notion.enabled else None,
            max_concurrent=notion.max_concurrent,
            log=context.log.info,
        )
    except SoundCloudSyncError as exc:
        raise Failure(description=str(exc)) from exc
    # each djay playlist is a partition of `playlists`, its listing kept by this sync
    known = set(context.instance.get_dynamic_partitions(PLAYLISTS))
    new_keys = [k for k in report.playlists if k not in known]
    if new_keys:
        context.instance.add_dynamic_partitions(PLAYLISTS, new_keys)
    for line in report.problems:
        context.log.warning(line)
    for line in report.possible_matches:
        context.log.warning(line)
    disagreements = [d.line() for d in report.disagreements]
    yield MaterializeResult(
        metadata={
            **report.metadata(),
            "library": MetadataValue.path(report.path),
            "correction_list": _lines(report.corrections),
            "disagreement_list": _lines(disagreements),
            "possible_match_list": _lines(report.possible_matches),
            "problem_list": _lines(report.problems),
        }
    )
    yield AssetCheckResult(
        check_name=AGREEMENT_CHECK,
        asset_key=DJAY_ASSET,
        passed=not disagreements,
        severity=AssetCheckSeverity.WARN,
        description="djay's analysed tempo (±0.5 BPM after octave folding) and key agree with ours",
        metadata={"disagreements": len(disagreements), "tracks": _lines(disagreements)},
    )
