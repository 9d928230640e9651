"""`soundcloud-sync`: the terminal door to the same pipeline the Dagster UI runs."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import api
from .config import Settings
from .errors import SoundCloudSyncError
from .playlists_file import read_playlists_file
from .sources import TrackRef, parse_playlist_url

if TYPE_CHECKING:
    from .progress import RunProgress


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _error_line(exc: Exception, subject: str = "") -> str:
    return f"{subject}: {exc}" if subject and subject not in str(exc) else str(exc)


@contextmanager
def _user_errors(subject: str = "") -> Iterator[None]:
    try:
        yield
    except SoundCloudSyncError as exc:  # errors meant for the user: one line, no trace
        _fail(_error_line(exc, subject))


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Keep SoundCloud playlists in your Notion catalog and local audio library."""
    with _user_errors():
        ctx.obj = Settings.from_env().apply()  # every setting checked before any command runs


@main.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--spotify-mine",
    is_flag=True,
    help="Also every playlist of the Spotify user of SPOTIFY_REFRESH_TOKEN (own and followed).",
)
def add(urls: tuple[str, ...], spotify_mine: bool) -> None:
    """Register playlists (as Dagster partitions) for scheduled and sensor syncs: sets,
    a user's /likes or /tracks, Spotify playlists; a track's URL joins its uploader's
    <user>/singles listing."""
    if not urls and not spotify_mine:
        _fail("give playlist URLs, or --spotify-mine")
    djay = [u for u in urls if api.is_djay_target(u)]
    urls = tuple(u for u in urls if not api.is_djay_target(u))
    for target in djay:
        with _user_errors():
            click.echo(f"registered djay library {api.register_djay_library(target)}")
    if not urls and not spotify_mine:
        return
    with _user_errors():
        mine = api.my_spotify_playlists() if spotify_mine else []
        keys = api.register_playlists([*urls, *mine])
    for key in keys:
        click.echo(f"registered {key}")


@main.command()
@click.argument("urls", nargs=-1, required=True)
def remove(urls: tuple[str, ...]) -> None:
    """Stop syncing playlists (nothing in Notion or the library is deleted); a track's
    URL is taken out of its singles listing, whose next sync unlinks its page."""
    with _user_errors():
        keys = api.unregister_playlists(list(urls))
    for url, key in zip(urls, keys, strict=True):
        if isinstance(parse_playlist_url(url), TrackRef):
            click.echo(f"removed {parse_playlist_url(url).public_url} from {key}")
        else:
            click.echo(f"unregistered {key}")


@main.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--no-download", is_flag=True, help="Only SoundCloud → catalog → Notion.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the stats object as JSON.")
@click.option("--name", "playlist_name", help="Name for the playlist's Notion page.")
def sync(
    urls: tuple[str, ...],
    no_download: bool,
    dry_run: bool,
    as_json: bool,
    playlist_name: str | None,
) -> None:
    """Sync playlists now, one run each on the local Dagster instance.

    With several URLs, every playlist is synced even when one fails; the exit code is
    non-zero if any failed, and `--json` prints a list of stats objects.
    """
    if playlist_name and len(urls) > 1:
        _fail("--name applies to one playlist; give one URL with it")
    if any(api.is_djay_target(u) for u in urls):
        if len(urls) > 1 or dry_run or playlist_name:
            _fail("sync djay takes no other URL, --dry-run or --name")
        _sync_djay(urls[0], as_json)
        return
    settings: Settings = click.get_current_context().obj
    with _user_errors():
        keys = [ref.key for ref in api.playlist_refs(list(urls), settings)]  # before any run
        read_playlists_file(settings.playlists_file)  # its tempo ranges too
    results, failures = [], []
    for url, key in zip(urls, keys, strict=True):
        try:
            results.append(_sync_one(url, no_download, dry_run, as_json, playlist_name))
        except SoundCloudSyncError as exc:
            click.echo(f"error: {_error_line(exc, key)}", err=True)
            failures.append(key)
            if isinstance(exc, api.SyncFailed) and exc.stats:
                results.append(exc.stats)  # what the failed run wrote, and what it could not
    if as_json and (results or len(urls) > 1):
        click.echo(json.dumps(results[0] if len(urls) == 1 else results, indent=2, default=str))
    else:
        for stats in results:
            _print_stats(stats)
    if failures:
        sys.exit(1)


def _sync_one(
    url: str, no_download: bool, dry_run: bool, as_json: bool, playlist_name: str | None
) -> dict[str, Any]:
    if dry_run:
        return api.sync_playlist_to_notion(url, playlist_name, dry_run=True)
    settings: Settings = click.get_current_context().obj
    assets = api.NOTION_ASSETS if no_download else None
    if not no_download:  # disk space is part of the plan: said before the run
        plan = api.space_plan([url], settings)
        lines = plan["lines"] if not plan["not_listed_yet"] else [
            "not listed yet: the download step says the space it needs once it is"
        ]  # fmt: skip
        for line in lines:
            click.echo(line, err=True)
    with _run_progress(as_json) as progress:
        key, outcome = api.run_playlist(
            url,
            assets,
            settings,
            playlist_name,
            progress.on_event,
            origin="cli",
            # without audio the two steps form one line: nothing to overlap
            in_process=no_download,
        )
    formats = None if no_download else settings.audio_formats
    api.raise_on_failure(url, outcome, api.failed_run_stats(settings, key, outcome, formats))
    return api.playlist_stats(api.catalog_for(settings), key, outcome, audio_formats=formats)


def _sync_djay(target: str, as_json: bool) -> None:
    """`sync djay` / `sync djay:<path>`: the djay library into the catalog and Notion."""
    path = target.partition(":")[2] or None
    try:
        stats = api.run_djay_library(click.get_current_context().obj, path, origin="cli")
    except SoundCloudSyncError as exc:
        _fail(_error_line(exc, "djay"))
    if as_json:
        click.echo(json.dumps(stats, indent=2, default=str))
        return
    matched = ", ".join(
        f"{rule} {stats.get(f'matched/{rule}', 0)}"
        for rule in ("known", "service", "isrc", "file", "new")
    )
    click.echo(f"djay: {stats.get('tracks_read', 0)} tracks read ({matched}); "
               f"{stats.get('new_pages', 0)} new pages, {stats.get('pages_updated', 0)} updated; "
               f"{stats.get('corrections', 0)} tempo corrections, "
               f"{stats.get('disagreements', 0)} disagreements with our analysis, "
               f"{stats.get('problems', 0)} problems")  # fmt: skip


def _run_progress(as_json: bool) -> RunProgress:
    """A bar per stage on a terminal; nothing when printing JSON or into a pipe."""
    from .progress import RunProgress

    return RunProgress(enabled=not as_json and sys.stderr.isatty())


def _print_stats(stats: dict[str, Any]) -> None:
    for name, value in stats.items():
        if name in ("track_ids", "plan"):
            continue
        click.echo(f"{name:>16}: {value}")


@main.command()
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("--all", "every", is_flag=True, help="Every registered playlist.")
@click.option("--force", is_flag=True, help="Also tracks already at the current version.")
@click.option("--json", "as_json", is_flag=True, help="Print what each run did as JSON.")
def reanalyze(urls: tuple[str, ...], every: bool, force: bool, as_json: bool) -> None:
    """Measure tracks again from the files on disk (no download): those analysed by an
    older version or never, or in another tempo range; write the new values to the
    catalog, the tags, Notion and the DJ exports. One run per playlist."""
    if bool(urls) == every:
        _fail("give playlist URLs or --all (not both)")
    settings: Settings = click.get_current_context().obj
    with _user_errors():
        read_playlists_file(settings.playlists_file)  # a bad tempo range stops us before any run
        keys = (
            api.registered_playlist_keys() if every else [parse_playlist_url(u).key for u in urls]
        )
    results, failures = [], []
    for key in keys:
        try:
            with _run_progress(as_json) as progress:
                results.append(api.reanalyze_playlist(key, force, progress.on_event))
        except SoundCloudSyncError as exc:
            click.echo(f"error: {_error_line(exc, key)}", err=True)
            failures.append(key)
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))
    else:
        for stats in results:
            _print_stats(stats)
        if not keys:
            click.echo("no playlists registered; add one with `soundcloud-sync add URL`")
    if failures:
        sys.exit(1)


@main.command()
@click.argument("url")
def audit(url: str) -> None:
    """Read a playlist's pages back from Notion: duplicates, agreement with the catalog."""
    with _user_errors():
        key = parse_playlist_url(url).key
        results = api.audit_playlist(url)
    for name, passed in sorted(results.items()):
        click.echo(f"{name}: {'passed' if passed else 'FAILED'}")
    if not results or not all(results.values()):
        _fail(f"{key}: Notion audit failed")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Registered playlists: last sync, track counts, Notion, downloads, analysis."""
    rows, estimate = api.sync_progress()
    djay = api.djay_status()
    if as_json:  # the playlists, then djay's library with `sync djay --json`'s figures
        entries = rows + ([{"key": api.DJAY_TARGET, "source": "djay", **djay}] if djay else [])
        click.echo(json.dumps(entries, indent=2, default=str))
        return
    if djay:
        click.echo(f"djay: {djay.get('library')}, last sync {djay['last_synced_at']}: "
                   f"{djay.get('tracks_read', 0)} tracks, {djay.get('new_pages', 0)} new pages, "
                   f"{djay.get('disagreements', 0)} disagreements")  # fmt: skip
    if not rows:
        click.echo("no playlists registered; add one with `soundcloud-sync add URL`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "playlist", "name", "tracks", "notion", "downloaded", "analysed", "last sync",
        "status", "latest run",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            r["key"], r.get("title") or "", str(r.get("tracks") or 0),
            str(r.get("in_notion") or 0), str(r.get("downloaded") or 0),
            str(r.get("analysed") or 0), r.get("last_synced_at") or "never",
            r.get("sync_status") or "", r["run"],
        )  # fmt: skip
    console = Console(width=200)
    console.print(table)
    states = Counter(r["run_state"] for r in rows)
    summary = ", ".join(
        f"{states[s]} {s}" for s in ("queued", "running", "done", "failed") if states[s]
    )
    console.print(f"{summary or 'no runs yet'}; {estimate.describe()}", highlight=False)


@main.command()
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("--json", "as_json", is_flag=True)
def space(urls: tuple[str, ...], as_json: bool) -> None:
    """Disk space the audio still needs (per format) and what is free: before a backfill
    (every registered playlist) or a sync (the URLs given)."""
    settings: Settings = click.get_current_context().obj
    with _user_errors():
        plan = api.space_plan(list(urls) or None, settings)
    if as_json:
        click.echo(json.dumps(plan, indent=2, default=str))
        return
    for line in plan["lines"]:
        click.echo(line)
    if plan["not_listed_yet"]:
        click.echo(
            f"  not listed yet (their size is known after their first sync): "
            f"{', '.join(plan['not_listed_yet'])}"
        )


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(dagster_args: tuple[str, ...]) -> None:
    """Start the Dagster UI (`dagster dev`) on the instance the CLI uses."""
    import os
    import shutil

    from .instance import local_instance

    settings: Settings = click.get_current_context().obj  # .env is in the environment now
    with local_instance(settings.dagster_home):  # the home, its dagster.yaml and the pools' limits
        home = Path(os.environ["DAGSTER_HOME"])
    # Paths the code server resolves, made absolute: it runs in DAGSTER_HOME, where
    # `dagster dev` finds the instance file it uses and so does not warn about the
    # repository's own dagster.yaml (the same settings, copied into the home).
    os.environ.update(settings.child_environment())
    # Dagster nudges `dagster dev` users towards its `dg` tool; nothing to act on here.
    os.environ.setdefault("PYTHONWARNINGS", "ignore:Function `dev_command` is superseded")
    click.echo(f"DAGSTER_HOME={home}", err=True)
    beside = Path(sys.executable).parent / "dagster"  # the one of this environment
    dagster = str(beside) if beside.exists() else shutil.which("dagster") or "dagster"
    os.chdir(home)
    os.execvp(dagster, [dagster, "dev", "-m", "soundcloud_sync.definitions", *dagster_args])


@main.group()
def export() -> None:
    """Write the library for DJ software (rekordbox XML, M3U8 playlists)."""


@export.command("rekordbox")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the XML [default: $SOUNDCLOUD_SYNC_HOME/library/rekordbox.xml].",
)
def export_rekordbox(output: Path | None) -> None:
    """The whole library as a rekordbox XML collection: tempo, key, grid, playlists."""
    from .export import COLLECTION_FILE, export_rekordbox

    settings: Settings = click.get_current_context().obj
    with _user_errors():
        target = output or settings.library_dir / COLLECTION_FILE
        report = export_rekordbox(
            api.catalog_for(settings),
            settings.audio_formats,
            target.resolve(),
            settings.dj_export_path_map,
        )
    click.echo(
        f"{report.path}: {report.tracks} tracks ({report.with_grid} with a beat grid), "
        f"{report.playlists} playlists"
    )


@export.command("m3u")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the .m3u8 files [default: $SOUNDCLOUD_SYNC_HOME/library/playlists].",
)
def export_m3u(output: Path | None) -> None:
    """One extended M3U8 per registered playlist, in playlist order."""
    from .export import PLAYLISTS_FOLDER, export_all_m3u8

    settings: Settings = click.get_current_context().obj
    with _user_errors():
        folder = output or settings.library_dir / PLAYLISTS_FOLDER
        reports = export_all_m3u8(
            api.catalog_for(settings), settings.audio_formats, folder, settings.dj_export_path_map
        )
    for report in reports:
        click.echo(f"{report.path}: {report.tracks} tracks")
    if not reports:
        click.echo("no playlists registered; add one with `soundcloud-sync add URL`")


@main.group()
def notion() -> None:
    """Notion set-up."""


@notion.command("init")
@click.option("--parent-page", required=True, help="Id of the page to create the databases under.")
def notion_init(parent_page: str) -> None:
    """Create the Music Tracks and Playlists databases with the right schema."""
    settings: Settings = click.get_current_context().obj
    if not settings.notion_token:
        _fail("NOTION_TOKEN is not set")
    from .notion import init_databases

    with _user_errors(f"parent page {parent_page}"):
        tracks_id, playlists_id = init_databases(
            token=settings.notion_token,
            base_url=settings.notion_base_url,
            parent_page_id=parent_page,
        )
    click.echo(f"NOTION_TRACKS_DATABASE_ID={tracks_id}")
    click.echo(f"NOTION_PLAYLISTS_DATABASE_ID={playlists_id}")


if __name__ == "__main__":
    main()
