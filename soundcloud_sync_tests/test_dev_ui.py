"""`soundcloud-sync dev` from the repository root: the Dagster UI on the CLI's instance,
loading the one `Definitions` without a warning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from soundcloud_sync_tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "soundcloud-sync")
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  name jobs { name } sensors { name } schedules { name } assetNodes { assetKey { path } }
} } } }"""


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["data"]


def _wait_for_repository(port: int, proc: subprocess.Popen[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "soundcloud-sync dev exited early"
        try:
            nodes = _graphql(port, QUERY)["repositoriesOrError"].get("nodes") or []
            if nodes:
                return nodes
        except (OSError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise AssertionError(f"the UI on port {port} did not load the code in {timeout:.0f}s")


def test_dev_serves_the_definitions_on_the_cli_instance_without_warnings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "SOUNDCLOUD_"))}
    env.pop("DAGSTER_HOME", None)
    env.update(SOUNDCLOUD_SYNC_HOME=str(home), DAGSTER_DISABLE_TELEMETRY="1")
    port = free_port()
    assert (ROOT / "dagster.yaml").exists()  # the case Dagster would warn about
    proc = subprocess.Popen(
        [CLI, "dev", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        [repository] = _wait_for_repository(port, proc)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()

    assert {j["name"] for j in repository["jobs"]} >= {"sync_playlist", "audit_playlist"}
    assert {s["name"] for s in repository["sensors"]} == {
        "new_tracks_sensor",
        "playlist_registry_sensor",
        "djay_library_sensor",
    }
    assert {s["name"] for s in repository["schedules"]} == {
        "incremental_sync_schedule",
        "notion_audit_schedule",
    }
    assets = {"/".join(a["assetKey"]["path"]) for a in repository["assetNodes"]}
    assert {"playlist_tracks", "notion_track_pages", "audio_features"} <= assets
    # the CLI's instance, with our instance settings copied in
    assert (home / "dagster" / "dagster.yaml").exists()
    assert f"DAGSTER_HOME={home / 'dagster'}" in output
    lines_before_shutdown = output.split("Shutting down")[0]
    assert "WARNING" not in lines_before_shutdown and "Warning" not in lines_before_shutdown, (
        lines_before_shutdown
    )


def test_the_root_dagster_yaml_is_a_file_equal_to_the_packaged_one() -> None:
    """Plain `dagster dev` in the repository reads the root file; `soundcloud-sync` copies
    the packaged one into its instance. One content, kept in step here (a real file, not
    a link, so a checkout without symlinks works too)."""
    root = ROOT / "dagster.yaml"
    assert not root.is_symlink()
    packaged = ROOT / "soundcloud_sync" / "dagster_instance.yaml"
    assert root.read_text() == packaged.read_text(), "copy soundcloud_sync/dagster_instance.yaml"
