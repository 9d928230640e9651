"""`make run`: sync a playlist end to end, offline against the bundled emulators.

With no credentials in the environment (no NOTION_TOKEN, no SOUNDCLOUD_API_BASE) and
no playlist given, it starts the SoundCloud, Notion and Eagle emulators, points the
real CLI at them and syncs the demo playlist. The emulators' state is kept in the
demo home, so a second `make run` shows an incremental re-sync. Given a playlist, it
runs `soundcloud-sync sync PLAYLIST` against the real services.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from soundcloud_sync.config import Settings
from soundcloud_sync_tests.emulators.eagle import EagleEmulator
from soundcloud_sync_tests.emulators.notion import NotionEmulator, seed_music_catalog
from soundcloud_sync_tests.emulators.soundcloud import (
    DEMO_SLUG,
    DEMO_USER,
    PROXY_API_BASE,
    SoundCloudEmulator,
    build_demo,
)

DEMO_PLAYLIST = f"https://soundcloud.com/{DEMO_USER}/sets/{DEMO_SLUG}"
CREDENTIALS = ("NOTION_TOKEN", "SOUNDCLOUD_API_BASE", "SOUNDCLOUD_CLIENT_ID")


def cli() -> str:
    return (
        shutil.which("soundcloud-sync", path=str(Path(sys.executable).parent)) or "soundcloud-sync"
    )


def _restore(path: Path, target: object, attrs: tuple[str, ...]) -> bool:
    if not path.exists():
        return False
    state = pickle.loads(path.read_bytes())
    for attr in attrs:
        setattr(target, attr, state[attr])
    return True


def _save(path: Path, source: object, attrs: tuple[str, ...]) -> None:
    path.write_bytes(pickle.dumps({a: getattr(source, a) for a in attrs}))


NOTION_STATE = ("databases", "data_sources", "pages")


def run_offline(extra_args: list[str]) -> int:
    """Start the emulators, run the CLI against them, keep their state for next time."""
    home = Path(os.environ.get("SOUNDCLOUD_SYNC_HOME", ".soundcloud_sync")).resolve()
    state_dir = home / "emulators"
    state_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        soundcloud = stack.enter_context(SoundCloudEmulator())
        build_demo(soundcloud)
        notion = stack.enter_context(NotionEmulator(rate=3.0, burst=10))
        notion_state = state_dir / "notion.pickle"
        if not _restore(notion_state, notion, NOTION_STATE):
            seeded = seed_music_catalog(notion)
            (state_dir / "notion-ids").write_text(
                f"{seeded.tracks_database_id}\n{seeded.playlists_database_id}\n"
            )
        tracks_db, playlists_db = (state_dir / "notion-ids").read_text().split()
        eagle = stack.enter_context(EagleEmulator())
        eagle_state = state_dir / "eagle.pickle"
        _restore(eagle_state, eagle, ("state",))
        env = {
            **os.environ,
            "SOUNDCLOUD_SYNC_HOME": str(home),
            "SOUNDCLOUD_API_BASE": PROXY_API_BASE,
            "SOUNDCLOUD_PROXY": soundcloud.proxy_url,
            "SOUNDCLOUD_CLIENT_ID": soundcloud.client_id,
            "NOTION_TOKEN": notion.token,
            "NOTION_BASE_URL": notion.base_url,
            "NOTION_TRACKS_DATABASE_ID": tracks_db,
            "NOTION_PLAYLISTS_DATABASE_ID": playlists_db,
            "EAGLE_API_URL": eagle.url,
            "AUDIO_FORMATS": os.environ.get("AUDIO_FORMATS", "aiff,m4a"),
        }
        print(f"offline demo: {DEMO_PLAYLIST} from the bundled emulators", file=sys.stderr)
        print(f"  SoundCloud api-v2 via proxy {soundcloud.proxy_url}", file=sys.stderr)
        print(f"  Notion {notion.base_url}, Eagle {eagle.url}", file=sys.stderr)
        print(f"  home {home}", file=sys.stderr)
        code = subprocess.call([cli(), "sync", DEMO_PLAYLIST, *extra_args], env=env)
        _save(notion_state, notion, NOTION_STATE)
        _save(eagle_state, eagle, ("state",))
        print(
            f"\nNotion emulator: {len(notion.pages)} pages, {notion.total_requests} requests "
            f"this run; SoundCloud emulator: {soundcloud.api_requests} api-v2 requests.",
            file=sys.stderr,
        )
        print(f"Library: {home / 'library'}", file=sys.stderr)
        print(
            "The run is in the Dagster UI: `make dev` (or `soundcloud-sync dev`).", file=sys.stderr
        )
    return code


def main(argv: list[str]) -> int:
    playlists = [a for a in argv if not a.startswith("-")]
    options = [a for a in argv if a.startswith("-")]
    if playlists:
        return subprocess.call([cli(), "sync", *playlists, *options])
    Settings.from_env()  # reads .env into the environment
    if any(os.environ.get(name) for name in CREDENTIALS):
        print("credentials are set: give a playlist, `make run PLAYLIST=<url>`", file=sys.stderr)
        return 2
    return run_offline(options)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
