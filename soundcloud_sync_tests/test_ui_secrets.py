"""No secret on any page of the Dagster UI: every kind of secret a user sets (tokens, a
database URL and a proxy URL with a password) is looked for in the UI's own GraphQL
answers — resources, runs with their config and tags, event logs and metadata, sensor
ticks — and in every file of the home folder, after a real sync."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import CLI, run_cli
from soundcloud_sync_tests.servers import free_port
from soundcloud_sync_tests.test_dev_ui import _graphql, _wait_for_repository

DB_PASSWORD = "Db-pAssw0rd-7c1e"
PROXY_PASSWORD = "Pr0xy-pass-55ab"

RUNS = """{ runsOrError { ... on Runs { results {
  runId status runConfigYaml tags { key value }
} } } }"""
LOGS = """query ($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection { events {
  __typename
  ... on MessageEvent { message }
  ... on MaterializationEvent { metadataEntries { label description
    ... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString }
    ... on MarkdownMetadataEntry { mdStr } ... on UrlMetadataEntry { url } } }
  ... on ExecutionStepFailureEvent { error { message stack } }
} } } }"""
RESOURCES = """query ($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    ... on ResourceDetailsList { results { name configuredValues { key value type } } } } }"""
SENSORS = """query ($selector: RepositorySelector!) { sensorsOrError(repositorySelector: $selector) {
  ... on Sensors { results { name sensorState { ticks(limit: 20) {
    status error { message } runKeys } } } } } }"""


def _query(port: int, query: str, **variables: Any) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def test_no_secret_on_any_page_of_the_ui(
    cli_env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, tmp_path: Path
) -> None:
    proxy = soundcloud_emulator.proxy_url.replace("http://", f"http://dj:{PROXY_PASSWORD}@")
    secrets = {
        "SOUNDCLOUD_PROXY": PROXY_PASSWORD,
        "NOTION_TOKEN": cli_env["NOTION_TOKEN"],
        "SOUNDCLOUD_CLIENT_ID": cli_env["SOUNDCLOUD_CLIENT_ID"],
        "SOUNDCLOUD_OAUTH_TOKEN": "2-291045-oauth-4f1c9a",
        "SPOTIFY_CLIENT_SECRET": "spotify-secret-91af0c",
        "SPOTIFY_REFRESH_TOKEN": "spotify-refresh-77d1e2",
        "SOUNDCLOUD_SYNC_CATALOG_URL": DB_PASSWORD,
    }
    env = {
        **cli_env,
        "SOUNDCLOUD_PROXY": proxy,
        "SOUNDCLOUD_OAUTH_TOKEN": secrets["SOUNDCLOUD_OAUTH_TOKEN"],
        "SPOTIFY_CLIENT_ID": "spotify-app-0001",
        "SPOTIFY_CLIENT_SECRET": secrets["SPOTIFY_CLIENT_SECRET"],
        "SPOTIFY_REFRESH_TOKEN": secrets["SPOTIFY_REFRESH_TOKEN"],
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "EAGLE_API_URL": "off",
    }
    playlist = soundcloud_emulator.add_playlist("secretive", "set", 3)
    synced = run_cli(env, "sync", playlist.url, "--no-download", "--json")
    assert synced.returncode == 0, synced.stderr
    shown = synced.stdout + synced.stderr

    # The UI, with the catalog on a PostgreSQL whose URL carries a password (nothing
    # listens there: the sensors' errors must not name it either).
    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    dead = free_port()
    ui_env = {
        **env,
        "SOUNDCLOUD_SYNC_CATALOG_URL": f"postgresql+psycopg2://sync:{DB_PASSWORD}@127.0.0.1:{dead}/c",
    }
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "dev", "-p", str(port)], cwd=tmp_path, env=ui_env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        [repository] = _wait_for_repository(port, proc)
        location = _graphql(port, "{ repositoriesOrError { ... on RepositoryConnection { "
                                  "nodes { location { name } } } } }")  # fmt: skip
        selector = {
            "repositoryName": repository["name"],
            "repositoryLocationName": location["repositoriesOrError"]["nodes"][0]["location"][
                "name"
            ],
        }
        answers = [_query(port, RESOURCES, selector=selector)]
        runs = _query(port, RUNS)
        answers.append(runs)
        run_ids = [r["runId"] for r in runs["data"]["runsOrError"]["results"]]
        assert run_ids, runs
        answers += [_query(port, LOGS, runId=run_id) for run_id in run_ids]
        deadline = time.monotonic() + 60  # the sensors tick against the unreachable catalog
        while True:
            sensors = _query(port, SENSORS, selector=selector)
            ticked = [s["name"] for s in sensors["data"]["sensorsOrError"]["results"]
                      if s["sensorState"]["ticks"]]  # fmt: skip
            if ticked or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        answers.append(sensors)
        assert ticked, "no sensor ticked: what a tick shows went unchecked"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()

    resources = {
        r["name"]: {v["key"]: v for v in r["configuredValues"]}
        for r in answers[0]["data"]["allTopLevelResourceDetailsOrError"]["results"]
    }
    # what the Resources page shows: the variable's name, as an environment reference
    assert resources["catalog"]["url"]["value"] == "SOUNDCLOUD_SYNC_CATALOG_URL"
    assert resources["catalog"]["url"]["type"] == "ENV_VAR"
    assert resources["soundcloud"]["proxy"]["value"] == "SOUNDCLOUD_PROXY"
    assert resources["notion"]["token"]["type"] == "ENV_VAR"
    logged = json.dumps(answers[2:])
    assert "notion_track_pages" in logged  # the run's events were read
    everything = json.dumps(answers) + output + shown
    for name, value in secrets.items():
        assert value not in everything, f"{name}'s value shows in the UI or the terminal"
    for path in home.rglob("*"):  # storage, compute logs, catalog, caches
        if path.is_file():
            data = path.read_bytes()
            for name, value in secrets.items():
                if name == "SOUNDCLOUD_CLIENT_ID" and path.parent.name == "soundcloud":
                    continue  # yt-dlp's own client-id cache: where the id has to be kept
                assert value.encode() not in data, f"{name}'s value is written to {path}"
