"""Settings: every variable read and checked in one place, a bad one named in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from soundcloud_sync.cli import main
from soundcloud_sync.config import ConfigError, Settings
from soundcloud_sync.errors import SoundCloudSyncError

CLI = str(Path(sys.executable).parent / "soundcloud-sync")
A_FILE = "/etc/hostname"  # exists on every Linux machine, and is not a folder

BAD_VALUES = [
    ("SOUNDCLOUD_SYNC_HOME", A_FILE, "is a file; give a folder"),
    ("SOUNDCLOUD_CLIENT_ID", "abc def", "contains spaces"),
    ("SOUNDCLOUD_OAUTH_TOKEN", "2-29 1234", "contains spaces"),
    ("SOUNDCLOUD_API_BASE", "api-v2.soundcloud.com", "is not a URL"),
    ("SOUNDCLOUD_PROXY", "proxy.example:3128", "is not a URL"),
    ("NOTION_TOKEN", "secret_abc\nsecret_def", "contains spaces or line breaks"),
    ("NOTION_BASE_URL", "ftp://api.notion.com", "is not a URL"),
    ("NOTION_TRACKS_DATABASE_ID", "my-tracks", "is not a Notion database id"),
    ("NOTION_PLAYLISTS_DATABASE_ID", "1f2e" * 7, "is not a Notion database id"),
    ("NOTION_REQUESTS_PER_SECOND", "abc", "is not a positive number"),
    ("NOTION_REQUESTS_PER_SECOND", "0", "is not a positive number"),
    ("NOTION_PROPERTY_MAPPING", "/nonexistent/mapping.yaml", "no file"),
    ("EAGLE_API_URL", "localhost:41595", "is not a URL"),
    ("AUDIO_FORMATS", "aiff,flac", "unsupported format(s) flac"),
    ("SOUNDCLOUD_SYNC_CATALOG_URL", "catalog.sqlite", "is not a database URL"),
    ("SOUNDCLOUD_SYNC_PLAYLISTS_FILE", "/", "is a folder; give a file"),
    ("SOUNDCLOUD_SYNC_SCHEDULE", "every day at 4", "is not a cron schedule"),
    ("SOUNDCLOUD_SYNC_SCHEDULE", "61 4 * * *", "is not a cron schedule"),
    ("SOUNDCLOUD_SYNC_AUDIT_SCHEDULE", "0 6 * * funday", "is not a cron schedule"),
    ("SOUNDCLOUD_SYNC_TIMEZONE", "Mars/Olympus_Mons", "is not a time zone"),
    ("SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS", "5m", "is not a whole number of seconds"),
    ("SOUNDCLOUD_SYNC_EXECUTOR", "k8s", "choose one of default, celery"),
    ("FFMPEG_BINARY", "/nonexistent/ffmpeg", "is not an executable"),
    ("NUMBA_CACHE_DIR", A_FILE, "is a file; give a folder"),
]
SECRETS = {"SOUNDCLOUD_CLIENT_ID", "SOUNDCLOUD_OAUTH_TOKEN", "NOTION_TOKEN"}


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment without any project setting, and a fresh home."""
    names = {name for name, _, _ in BAD_VALUES} | {"CELERY_BROKER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, "SOUNDCLOUD_SYNC_HOME": str(tmp_path / "home")}


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, allowed: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the repository's
    result = CliRunner().invoke(main, ["status"], env={**_clean_env(tmp_path), name: value})
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # our one-line exit, not a crash
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {name}: ") and allowed in line
    if name in SECRETS:
        assert value not in line and value.split()[0] not in line


def test_a_mapping_file_that_does_not_fit_is_named(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("tracks: {tempo_bpm: BPM}\n")
    with pytest.raises(ConfigError, match=r"^NOTION_PROPERTY_MAPPING: .*unknown field"):
        Settings.from_env({"NOTION_PROPERTY_MAPPING": str(mapping)})
    mapping.write_text("- tempo\n")
    with pytest.raises(ConfigError, match="expected a YAML mapping"):
        Settings.from_env({"NOTION_PROPERTY_MAPPING": str(mapping)})


def test_celery_without_a_broker_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^SOUNDCLOUD_SYNC_EXECUTOR: celery needs CELERY_BROKER"):
        Settings.from_env({"SOUNDCLOUD_SYNC_EXECUTOR": "celery"})


def test_good_values_are_read_into_plain_fields(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("tracks: {tempo: BPM}\n")
    settings = Settings.from_env(
        {
            "SOUNDCLOUD_SYNC_HOME": str(tmp_path / "home"),
            "SOUNDCLOUD_API_BASE": "http://127.0.0.1:8765",
            "NOTION_REQUESTS_PER_SECOND": " 2.5 ",
            "NOTION_TRACKS_DATABASE_ID": "1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718",
            "NOTION_PROPERTY_MAPPING": str(mapping),
            "AUDIO_FORMATS": "AIFF, m4a",
            "SOUNDCLOUD_SYNC_SCHEDULE": "*/15 0-6,22 * jan-mar mon-fri",
            "SOUNDCLOUD_SYNC_AUDIT_SCHEDULE": "@daily",
            "SOUNDCLOUD_SYNC_TIMEZONE": "Europe/Berlin",
            "SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS": "60",
            "SOUNDCLOUD_SYNC_EXECUTOR": "celery",
            "CELERY_BROKER_URL": "redis://:hunter2@127.0.0.1:6379/0",
            "NOTION_TOKEN": "secret_abc",
        }
    )
    assert settings.home == (tmp_path / "home").resolve()
    assert settings.soundcloud_api_base == "http://127.0.0.1:8765/"
    assert settings.notion_requests_per_second == 2.5
    assert settings.notion_mapping_file == str(mapping.resolve())
    assert settings.audio_formats == ("aiff", "m4a")
    assert (settings.sync_schedule, settings.audit_schedule) == (
        "*/15 0-6,22 * jan-mar mon-fri",
        "@daily",
    )
    assert (settings.timezone, settings.min_recheck_seconds) == ("Europe/Berlin", 60)
    assert settings.numba_cache_dir == settings.home / "cache" / "numba"
    assert "hunter2" not in repr(settings) and "secret_abc" not in repr(settings)


def test_the_schedules_use_the_settings(tmp_path: Path) -> None:
    from soundcloud_sync.definitions import build_definitions

    settings = Settings(
        home=tmp_path, sync_schedule="30 3 * * *", audit_schedule="0 7 * * 1", timezone="Asia/Tokyo"
    )
    defs = build_definitions(settings)
    sync = defs.resolve_schedule_def("incremental_sync_schedule")
    audit = defs.resolve_schedule_def("notion_audit_schedule")
    assert (sync.cron_schedule, sync.execution_timezone) == ("30 3 * * *", "Asia/Tokyo")
    assert (audit.cron_schedule, audit.execution_timezone) == ("0 7 * * 1", "Asia/Tokyo")


def test_every_user_facing_error_shares_one_base() -> None:
    from soundcloud_sync.api import SyncFailed
    from soundcloud_sync.notion import NotionError, SchemaError
    from soundcloud_sync.sources import PlaylistNotFound, SourceError

    for error in (SourceError, PlaylistNotFound, NotionError, SchemaError, ConfigError, SyncFailed):
        assert issubclass(error, SoundCloudSyncError)
    assert issubclass(ConfigError, ValueError) and issubclass(SyncFailed, RuntimeError)


def test_a_bad_rate_in_a_real_process_is_one_line(tmp_path: Path) -> None:
    """The reported case: `NOTION_REQUESTS_PER_SECOND=abc soundcloud-sync sync URL`."""
    env = {**_clean_env(tmp_path), "NOTION_REQUESTS_PER_SECOND": "abc"}
    result = subprocess.run(
        [CLI, "sync", "https://soundcloud.com/dj/sets/mix", "--no-download"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: NOTION_REQUESTS_PER_SECOND: 'abc' is not a positive number (e.g. 3 or 2.5)"
    ]
