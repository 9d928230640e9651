"""The SoundCloud emulator is faithful: plain yt-dlp reads and downloads from it unchanged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mutagen.mp3 import MP3
from yt_dlp import YoutubeDL
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

from soundcloud_sync.sources import Availability, SoundCloudClient
from soundcloud_sync_tests.emulators.soundcloud import (
    DEMO_SLUG,
    DEMO_USER,
    PROXY_API_BASE,
    SoundCloudEmulator,
)


def _get(url: str) -> tuple[int, dict | list]:
    try:
        with urllib.request.urlopen(url) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _ydl(cache_dir: Path, **params) -> YoutubeDL:
    return YoutubeDL({"cachedir": str(cache_dir), "quiet": True, "no_warnings": True, **params})


def test_plain_ytdlp_extracts_a_set_through_the_proxy(
    soundcloud_emulator, soundcloud_cache_dir, monkeypatch
):
    """yt-dlp's own set extraction, as documented: full objects for 5, one request per stub."""
    emu = soundcloud_emulator
    made = emu.add_playlist(
        "dj-kaia", "proxy-mix", 9, kinds={2: "preview", 6: "blocked", 7: "gone", 8: "drm"}
    )
    monkeypatch.setattr(SoundcloudBaseIE, "_API_V2_BASE", PROXY_API_BASE)
    with _ydl(soundcloud_cache_dir, proxy=emu.proxy_url, ignoreerrors=True) as ydl:
        info = ydl.extract_info(made.url, download=False)

    assert info["id"] == str(made.id) and info["title"] == made.title
    entries = info["entries"]
    assert len(entries) == 9
    readable = {1, 2, 3, 4, 5, 9}
    for position, (entry, tid) in enumerate(zip(entries, made.track_ids, strict=True), 1):
        if position not in readable:
            assert entry is None  # geo-blocked, deleted, DRM: yt-dlp reports an error
            continue
        track = emu.tracks[tid]
        assert entry["id"] == str(tid) and entry["title"] == track.title
        assert entry["uploader"] == track.user.username
        preview = [f["format_id"].endswith("_preview") for f in entry["formats"]]
        assert all(preview) if position == 2 else not any(preview)
    # The first five came as full objects (resolved by permalink); each stub cost a request.
    assert emu.counts["resolve"] == 1 + 5
    assert emu.counts["track"] == 4
    assert emu.counts["format_info"] >= 2 * 6


def test_ytdlp_downloads_progressive_and_hls_audio(
    soundcloud_emulator, soundcloud_cache_dir, tmp_path, monkeypatch
):
    emu = soundcloud_emulator
    track = emu.add_track("dj-kaia", "Loop", bpm=124, key="A minor", seconds=12)
    preview = emu.add_track("dj-kaia", "Go Plus", kind="preview", bpm=124, key="A minor")
    monkeypatch.setattr(SoundcloudBaseIE, "_API_V2_BASE", emu.base_url)
    outtmpl = str(tmp_path / "%(id)s-%(format_id)s.%(ext)s")
    for fmt in ("http_mp3_0_0", "hls_mp3_0_0"):
        with _ydl(soundcloud_cache_dir, format=fmt, outtmpl=outtmpl, noprogress=True) as ydl:
            ydl.download([track.permalink_url])
    http_file = tmp_path / f"{track.id}-http_mp3_0_0.mp3"
    hls_file = tmp_path / f"{track.id}-hls_mp3_0_0.mp3"
    assert http_file.read_bytes() == hls_file.read_bytes()  # HLS segments join to the file
    assert MP3(http_file).info.length == pytest.approx(12, abs=0.2)
    assert emu.counts["hls_segment"] == 2

    with _ydl(soundcloud_cache_dir, outtmpl=outtmpl, noprogress=True) as ydl:
        info = ydl.extract_info(preview.permalink_url, download=True)
    assert info["format_id"].endswith("_preview")
    assert info["duration"] == 30  # what the api says for a snipped track…
    assert preview.full_duration_ms > 30_000  # …while the real track is longer
    assert MP3(info["requested_downloads"][0]["filepath"]).info.length == pytest.approx(30, abs=0.2)


def test_original_download_of_a_downloadable_track(soundcloud_emulator):
    emu = soundcloud_emulator
    track = emu.add_track("dj-kaia", "Free DL", downloadable=True, seconds=6)
    locked = emu.add_track("dj-kaia", "No DL")
    base, cid = emu.base_url, emu.client_id
    status, answer = _get(f"{base}tracks/{track.id}/download?client_id={cid}")
    assert status == 200
    with urllib.request.urlopen(answer["redirectUri"]) as audio:
        assert audio.headers["Content-Type"] == "audio/mpeg"
        assert len(audio.read()) > 10_000
    assert _get(f"{base}tracks/{locked.id}/download?client_id={cid}")[0] == 403


def test_api_rules(soundcloud_emulator):
    emu = soundcloud_emulator
    made = emu.add_playlist("dj-kaia", "rules", 60, kinds={12: "gone"})
    base, cid = emu.base_url, emu.client_id
    ids = ",".join(map(str, made.track_ids))

    assert _get(f"{base}resolve?url={made.url}")[0] == 401  # no client id
    assert _get(f"{base}resolve?url={made.url}&client_id=wrong")[0] == 401
    status, playlist = _get(f"{base}resolve?url={made.url}&client_id={cid}")
    assert status == 200 and playlist["kind"] == "playlist" and playlist["track_count"] == 60
    assert all("title" in t for t in playlist["tracks"][:5])
    assert all(
        set(t) == {"id", "kind", "monetization_model", "policy"} for t in playlist["tracks"][5:]
    )

    assert _get(f"{base}tracks?ids={ids}&client_id={cid}")[0] == 400  # 60 ids > 50
    status, batch = _get(f"{base}tracks?ids={','.join(ids.split(',')[:50])}&client_id={cid}")
    assert status == 200 and len(batch) == 49  # the deleted one is silently absent
    gone = made.track_ids[11]
    assert _get(f"{base}tracks/{gone}?client_id={cid}")[0] == 404


def test_private_tracks_need_the_set_token(soundcloud_emulator):
    emu = soundcloud_emulator
    made = emu.add_playlist("dj-kaia", "hidden", 8, private=True)
    base, cid = emu.base_url, emu.client_id
    ids = ",".join(map(str, made.track_ids))
    assert _get(f"{base}tracks?ids={ids}&client_id={cid}")[1] == []
    with_token = f"&playlistId={made.id}&playlistSecretToken={made.secret_token}"
    assert len(_get(f"{base}tracks?ids={ids}&client_id={cid}{with_token}")[1]) == 8


def test_rate_limit_window_answers_429_with_retry_after():
    with SoundCloudEmulator(rate_limit=2, rate_window=30) as emu:
        made = emu.add_playlist("dj-kaia", "busy", 3)
        url = f"{emu.base_url}resolve?url={made.url}&client_id={emu.client_id}"
        assert [_get(url)[0] for _ in range(2)] == [200, 200]
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url)
        assert caught.value.code == 429
        assert 1 <= int(caught.value.headers["Retry-After"]) <= 30


def test_standalone_demo_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "soundcloud_sync_tests.emulators.soundcloud", "--port", str(port),
         "--demo", "--seed-cache", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "SoundCloud emulator on" in proc.stdout.readline()
        client = SoundCloudClient(api_base=f"http://127.0.0.1:{port}/", cache_dir=tmp_path)
        playlist = client.fetch_playlist(f"https://soundcloud.com/{DEMO_USER}/sets/{DEMO_SLUG}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    kinds = [t.availability for t in playlist.tracks]
    assert len(kinds) == 12
    for special in (Availability.PREVIEW_ONLY, Availability.GEO_BLOCKED, Availability.GONE):
        assert kinds.count(special) == 1
    assert proc.returncode == 0


def test_the_rate_window_counts_requests_by_arrival_even_when_checked_out_of_order():
    """The emulator's threads check requests in about the order they arrived: one that
    arrived first but is checked last must still find the window that later ones filled."""
    from soundcloud_sync_tests.emulators.base import RateWindow

    window = RateWindow(2, 10.0)
    assert window.check(5.0) is None and window.check(5.2) is None
    assert window.check(5.1) == 10  # three in (−5, 5.2]: refused, until 5.0 has left
    assert window.check(15.3) is None and window.check(16.0) is None
    busy = RateWindow(3, 10.0)
    assert [busy.check(t) for t in (0, 1, 2, 3, 10.5, 11, 11.5, 12.1)] == [
        None, None, None, 7, None, None, 1, None,
    ]  # fmt: skip


def test_held_requests_go_on_together_once_enough_have_come(soundcloud_emulator):
    """`hold_until_met` lines up clients that started apart; a lone one waits at most
    `within_s`; requests without a key pass (the deployment test relies on all three)."""
    import threading
    import time

    emu = soundcloud_emulator
    made = emu.add_playlist("dj-kaia", "together", 2)
    url = f"{emu.base_url}resolve?url={made.url}&client_id={emu.client_id}"
    meeting = emu.hold_until_met("resolve", 2, within_s=20.0)
    answered: list[float] = []
    first = threading.Thread(target=lambda: answered.append((_get(url), time.time())[1]))
    first.start()
    deadline = time.monotonic() + 10
    while not meeting.arrivals and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)
    assert answered == [], "the first request is held"
    second_sent = time.time()
    assert _get(url)[0] == 200
    first.join(timeout=10)
    # released by the second request, long before the 20 s the hold allows
    assert len(answered) == 1 and second_sent <= answered[0] < second_sent + 10
    assert meeting.met
    early, late = meeting.arrivals.values()
    assert late - early >= 1.0

    meeting = emu.hold_until_met("resolve", 2, within_s=1.0)
    started = time.time()
    assert _get(url)[0] == 200
    assert 1.0 <= time.time() - started < 10, "a lone request goes on after within_s"
    assert not meeting.met
    started = time.time()
    assert _get(url)[0] == 200  # one that comes after the meeting is off is not held
    assert time.time() - started < 1.0

    # keyed: two requests of one key do not make a meeting; a request without a key passes
    track_url = f"{emu.base_url}tracks/{{}}?client_id={emu.client_id}"
    a, b = made.track_ids
    emu.hold_until_met("track", 2, within_s=3.0, key=lambda path: "a" if str(a) in path else None)
    started = time.time()
    assert _get(track_url.format(b))[0] == 200
    assert time.time() - started < 3.0, "a request without a key is not held"
    assert _get(track_url.format(a))[0] == 200
    assert time.time() - started >= 3.0, "one key alone waits out within_s"
