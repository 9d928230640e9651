"""Eagle import through the local API v1 emulator: once per track, and no failure when Eagle is away."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from soundcloud_sync.eagle import EagleClient, track_tags
from soundcloud_sync_tests.emulators.eagle import EagleEmulator


@pytest.fixture
def audio_files(tmp_path):
    files = []
    for i in range(3):
        path = tmp_path / f"Artist - Track {i}.aiff"
        path.write_bytes(b"FORM" + bytes(100))
        files.append(path)
    return files


def _import_all(client: EagleClient, files, playlist: str = "Deep House Set"):
    return [
        client.import_file(
            path,
            name=path.stem,
            website=f"https://soundcloud.com/artist/track-{i}",
            folder=playlist,
            tags=track_tags(playlist, "Deep House", "A minor", "8A", 124.02),
            annotation="124.02 BPM, A minor (8A), -9.1 LUFS",
        )
        for i, path in enumerate(files)
    ]


def test_import_once_into_a_folder_per_playlist(eagle_emulator, audio_files):
    with EagleClient(eagle_emulator.url) as client:
        first = _import_all(client, audio_files)
    assert [r.status for r in first] == ["imported"] * 3
    assert all(r.item_id for r in first)

    with EagleClient(eagle_emulator.url) as client:  # a re-run: a new process, a new client
        second = _import_all(client, audio_files)
    assert [r.status for r in second] == ["existing"] * 3
    assert [r.item_id for r in second] == [r.item_id for r in first]

    assert len(eagle_emulator.state.items) == 3
    folders = eagle_emulator.all_folders()
    assert [f["name"] for f in folders] == ["Deep House Set"]
    item = eagle_emulator.state.items[0]
    assert item["folders"] == [folders[0]["id"]]
    assert item["url"] == "https://soundcloud.com/artist/track-0"
    assert item["tags"] == ["Deep House Set", "Deep House", "A minor", "8A", "124 BPM"]
    assert item["annotation"].startswith("124.02 BPM")


def test_the_emulator_like_eagle_does_not_deduplicate(eagle_emulator, audio_files):
    import requests

    body = {"path": str(audio_files[0]), "name": "x", "website": "https://soundcloud.com/a/b"}
    for _ in range(2):
        answer = requests.post(f"{eagle_emulator.url}/api/item/addFromPath", json=body).json()
        assert answer["status"] == "success"
    assert len(eagle_emulator.items_with_url("https://soundcloud.com/a/b")) == 2


def test_each_playlist_gets_its_own_folder(eagle_emulator, audio_files):
    with EagleClient(eagle_emulator.url) as client:
        a = _import_all(client, audio_files[:1], "Set A")
        b = _import_all(client, audio_files[:1], "Set B")
        again = _import_all(client, audio_files[:1], "Set A")
    assert a[0].folder_id != b[0].folder_id
    assert again[0].item_id == a[0].item_id
    assert sorted(f["name"] for f in eagle_emulator.all_folders()) == ["Set A", "Set B"]


def test_older_eagle_without_ids_in_answers(audio_files):
    with EagleEmulator(return_item_ids=False) as eagle, EagleClient(eagle.url) as client:
        first = _import_all(client, audio_files)
        second = _import_all(EagleClient(eagle.url), audio_files)
        assert [r.item_id for r in first] == [i["id"] for i in eagle.state.items]
        assert [r.status for r in second] == ["existing"] * 3
        assert len(eagle.state.items) == 3


def test_concurrent_imports_of_one_track_make_one_item(eagle_emulator, audio_files):
    client = EagleClient(eagle_emulator.url)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _import_all(client, audio_files[:1])[0], range(8)))
    assert sorted(r.status for r in results) == ["existing"] * 7 + ["imported"]
    assert len(eagle_emulator.state.items) == 1


def test_eagle_not_running_is_a_status_not_an_exception(audio_files):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = EagleClient(f"http://127.0.0.1:{port}", timeout=2)
    status = client.status()
    assert not status.running
    assert status.message == f"Eagle not running at http://127.0.0.1:{port}"
    results = _import_all(client, audio_files)
    assert {r.status for r in results} == {"not-running"}
    assert results[0].reason == f"Eagle not running at http://127.0.0.1:{port}"


def test_eagle_errors_are_reported_per_file(eagle_emulator, tmp_path):
    with EagleClient(eagle_emulator.url) as client:
        assert client.status().running and client.status().version == "3.0.0"
        result = client.import_file(
            tmp_path / "missing.aiff", name="m", website="https://soundcloud.com/a/m", folder="F"
        )
    assert result.status == "error"
    assert "missing.aiff" in (result.reason or "")
    assert eagle_emulator.state.items == []
