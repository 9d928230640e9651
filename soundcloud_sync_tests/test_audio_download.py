"""Downloads through the real yt-dlp against the SoundCloud emulator."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from soundcloud_sync.audio import analyze_file
from soundcloud_sync.audio.download import (
    Downloader,
    DownloadRequest,
    DownloadStatus,
    download_tracks,
)
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync.steps.audio import direct_streams
from soundcloud_sync_tests.emulators.soundcloud import (
    API_ENDPOINTS,
    PROXY_API_BASE,
    SoundCloudEmulator,
)


def _request(track) -> DownloadRequest:
    return DownloadRequest(track.permalink_url, track.id, track.full_duration_ms / 1000)


def test_a_mixed_playlist(soundcloud_emulator, soundcloud_client, tmp_path, numba_warm):
    emu = soundcloud_emulator
    tracks = {
        "ok": emu.add_track("label", bpm=124.0, key="A minor"),
        "original": emu.add_track("label", bpm=174.0, key="E minor", downloadable=True),
        "preview": emu.add_track("label", kind="preview"),
        "blocked": emu.add_track("label", kind="blocked"),
        "drm": emu.add_track("label", kind="drm"),
        "gone": emu.add_track("label", kind="gone"),
        # Serves 24 s of audio for a track that claims 200 s: a cut stream is no track either.
        "cut": emu.add_track("label", duration_ms=200_000),
    }
    lib = tmp_path / "downloads"
    results = download_tracks(
        [_request(t) for t in tracks.values()], lib, soundcloud_client.youtube_dl, max_workers=3
    )
    by_name = dict(zip(tracks, results, strict=True))

    assert by_name["ok"].status == DownloadStatus.DOWNLOADED
    assert by_name["ok"].format_id == "http_mp3_0_0"
    assert by_name["original"].status == DownloadStatus.DOWNLOADED
    assert by_name["original"].format_id == "download"  # the original upload wins
    assert by_name["preview"].status == DownloadStatus.PREVIEW_ONLY
    assert by_name["preview"].reason == "only a 30-second preview is offered"
    assert by_name["blocked"].status == DownloadStatus.GEO_BLOCKED
    assert by_name["drm"].status == DownloadStatus.DRM
    assert by_name["gone"].status == DownloadStatus.GONE
    assert by_name["cut"].status == DownloadStatus.PREVIEW_ONLY
    assert "200.0s track" in (by_name["cut"].reason or "")

    assert sorted(p.name for p in lib.iterdir() if p.name != ".locks") == sorted(
        [f"{tracks['ok'].id}.mp3", f"{tracks['original'].id}.mp3"]
    )  # nothing for the others, no staging left behind (only the per-track lock files)
    assert emu.counts["stream"] + emu.counts["original"] >= 2
    media = ("stream", "hls_playlist", "hls_segment")
    previews = [p for e, _, p in emu.log if e in media and ("/preview/" in p or "/0/30/" in p)]
    assert previews == []  # no preview audio was even fetched

    features = analyze_file(by_name["ok"].path)
    assert abs(features.tempo - 124.0) <= 0.1 and features.key == "A minor"
    assert by_name["ok"].duration_s == pytest.approx(24.0, abs=0.2)


def test_rerun_fetches_nothing_again(soundcloud_emulator, soundcloud_client, tmp_path):
    emu = soundcloud_emulator
    tracks = [emu.add_track("label") for _ in range(3)]
    lib = tmp_path / "downloads"
    first = download_tracks([_request(t) for t in tracks], lib, soundcloud_client.youtube_dl)
    assert {r.status for r in first} == {DownloadStatus.DOWNLOADED}
    emu.reset_counts()

    second = download_tracks([_request(t) for t in tracks], lib, soundcloud_client.youtube_dl)
    assert {r.status for r in second} == {DownloadStatus.SKIPPED_EXISTING}
    assert [r.path for r in second] == [r.path for r in first]
    assert sum(emu.counts.values()) == 0  # not even a metadata request


def test_part_files_are_never_taken_for_finished_ones(
    soundcloud_emulator, soundcloud_client, tmp_path
):
    track = soundcloud_emulator.add_track("label")
    lib = tmp_path / "downloads"
    (lib / ".downloading").mkdir(parents=True)
    (lib / f"{track.id}.mp3.part").write_bytes(b"half")
    (lib / ".downloading" / f"{track.id}.mp3.part").write_bytes(b"half of another stream")
    (lib / ".downloading" / f"{track.id}.mp3").write_bytes(b"unverified")

    [result] = download_tracks([_request(track)], lib, soundcloud_client.youtube_dl)

    assert result.status == DownloadStatus.DOWNLOADED
    assert result.path == lib / f"{track.id}.mp3"
    assert result.path.read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert result.duration_s == pytest.approx(24.0, abs=0.2)
    assert not (lib / ".downloading").exists()


def test_a_run_that_ends_never_pulls_staging_from_under_another(
    soundcloud_emulator, soundcloud_client, tmp_path
):
    """Runs of different playlists share the downloads folder. One that ends drops the
    staging folder when it is empty; another's yt-dlp, about to open its ``.part``
    there, must still find its folder (CI saw "unable to open for writing")."""
    track = soundcloud_emulator.add_track("label")
    lib = tmp_path / "downloads"
    other_run = Downloader(lib, soundcloud_client.youtube_dl)

    def youtube_dl(params):
        ydl = soundcloud_client.youtube_dl(params)
        download = ydl.dl  # called once yt-dlp has made sure the folder exists

        def dl(name, info, *args, **kwargs):
            other_run._clean_staging()  # the other run ends just then
            return download(name, info, *args, **kwargs)

        ydl.dl = dl
        return ydl

    [result] = download_tracks([_request(track)], lib, youtube_dl)

    assert result.status == DownloadStatus.DOWNLOADED
    assert result.attempts == 1  # its first try wrote the file: no retry was needed
    assert not (lib / ".downloading").exists()  # and the last one out removes it


def test_what_killed_runs_left_in_staging_is_swept_but_not_a_download_in_progress(
    soundcloud_emulator, soundcloud_client, tmp_path
):
    """A power cut mid-download leaves a ``.part`` in staging, maybe of a track no later
    run asks for. The next run sweeps every track's leftovers whose lock is free (the
    layout of this release and of the last), and leaves alone the folder of a track
    another process is downloading now."""
    from filelock import FileLock

    track = soundcloud_emulator.add_track("label")
    lib = tmp_path / "downloads"
    staging, locks = lib / ".downloading", lib / ".locks"
    (staging / "111").mkdir(parents=True)
    (staging / "111" / "111.mp3.part").write_bytes(b"cut off")  # killed mid-download
    (staging / "222.mp3.part").write_bytes(b"cut off")  # the last release's layout
    (staging / "333").mkdir()
    (staging / "333" / "333.mp3.part").write_bytes(b"being written")
    locks.mkdir()
    with FileLock(locks / "333.lock"):  # held as another process's download would
        [result] = download_tracks([_request(track)], lib, soundcloud_client.youtube_dl)

    assert result.status == DownloadStatus.DOWNLOADED
    assert sorted(str(p.relative_to(staging)) for p in staging.rglob("*")) == [
        "333",
        "333/333.mp3.part",
    ]


def test_goplus_track_with_a_token_is_downloaded_whole(soundcloud_emulator, tmp_path):
    token = "2-424242-goplus-token"
    soundcloud_emulator.oauth_tokens.add(token)
    track = soundcloud_emulator.add_track("label", kind="preview")
    cache = tmp_path / "cache"
    soundcloud_emulator.seed_client_id_cache(cache)
    with SoundCloudClient(soundcloud_emulator.base_url, oauth_token=token, cache_dir=cache) as sc:
        [result] = download_tracks([_request(track)], tmp_path / "lib", sc.youtube_dl)
    assert result.status == DownloadStatus.DOWNLOADED
    assert "preview" not in (result.format_id or "")
    assert result.duration_s == pytest.approx(track.seconds, abs=0.2)
    assert result.duration_s > 30.5


def test_transient_429_is_retried_with_backoff(soundcloud_emulator, soundcloud_client, tmp_path):
    track = soundcloud_emulator.add_track("label")
    soundcloud_emulator.inject_429(times=2, retry_after=0)
    [result] = download_tracks(
        [_request(track)], tmp_path / "lib", soundcloud_client.youtube_dl, rate_limit_wait=0.05
    )
    assert result.status == DownloadStatus.DOWNLOADED
    assert result.attempts == 1  # a 429 is a pause, not a failed attempt
    assert soundcloud_emulator.statuses[429] == 2


def test_persistent_failure_is_an_error_naming_the_cause(
    soundcloud_emulator, soundcloud_client, tmp_path
):
    track = soundcloud_emulator.add_track("label")
    soundcloud_emulator.inject_429(times=50, retry_after=0)
    [result] = download_tracks(
        [_request(track)],
        tmp_path / "lib",
        soundcloud_client.youtube_dl,
        retries=2,
        backoff=0.01,
        rate_limit_retries=2,
        rate_limit_wait=0.01,
    )
    assert result.status == DownloadStatus.ERROR
    assert result.attempts == 3
    assert "429" in (result.reason or "")
    assert soundcloud_emulator.client_id not in (result.reason or "")


def test_known_hopeless_tracks_cost_no_request(soundcloud_emulator, soundcloud_client, tmp_path):
    requests = [
        DownloadRequest("https://soundcloud.com/a/b", 1, 200.0, availability=kind)
        for kind in ("preview-only", "geo-blocked", "drm", "gone")
    ]
    results = download_tracks(requests, tmp_path / "lib", soundcloud_client.youtube_dl)
    assert [r.status.value for r in results] == ["preview-only", "geo-blocked", "drm", "gone"]
    assert sum(soundcloud_emulator.counts.values()) == 0


def test_concurrency_is_bounded(soundcloud_emulator, soundcloud_client, tmp_path):
    soundcloud_emulator.latency = 0.02
    tracks = [soundcloud_emulator.add_track("label") for _ in range(6)]
    active: set[str] = set()
    peak = [0]
    lock = threading.Lock()

    def hook(d) -> None:  # yt-dlp's own progress hook
        with lock:
            if d["status"] == "downloading":
                active.add(d["filename"])
            else:
                active.discard(d["filename"])
            peak[0] = max(peak[0], len(active))

    results = download_tracks(
        [_request(t) for t in tracks],
        tmp_path / "lib",
        soundcloud_client.youtube_dl,
        max_workers=2,
        ydl_params={"progress_hooks": [hook]},
    )
    assert {r.status for r in results} == {DownloadStatus.DOWNLOADED}
    assert 1 <= peak[0] <= 2


def test_sources_tracks_are_accepted_and_proxy_mode_works(tmp_path):
    with SoundCloudEmulator() as emu:
        emu.add_playlist("curator", "set", 3, kinds={2: "preview"})
        cache = tmp_path / "cache"
        emu.seed_client_id_cache(cache)
        with SoundCloudClient(PROXY_API_BASE, proxy=emu.proxy_url, cache_dir=cache) as sc:
            playlist = sc.fetch_playlist("https://soundcloud.com/curator/sets/set")
            results = download_tracks(playlist.tracks, tmp_path / "lib", sc.youtube_dl)
    assert [r.status.value for r in results] == ["downloaded", "preview-only", "downloaded"]
    assert all(Path(r.path).exists() for r in results if r.ok)
    assert results[1].reason == "track is preview-only"  # known from the listing: no request


def test_requests_from_dataframe_rows_and_tracks():
    import pandas as pd

    from soundcloud_sync.sources import Availability, Track

    frame = pd.DataFrame(
        [
            {"soundcloud_id": 5, "url": "https://soundcloud.com/a/x", "duration_ms": 240000,
             "availability": "ok"},
            {"soundcloud_id": 6, "url": "https://soundcloud.com/a/y", "duration_ms": None,
             "availability": None},
        ]
    )  # fmt: skip
    first, second = (DownloadRequest.of(row) for row in frame.to_dict("records"))
    assert first == DownloadRequest("https://soundcloud.com/a/x", 5, 240.0, "ok")
    assert second == DownloadRequest("https://soundcloud.com/a/y", 6, None, None)
    track = Track(7, 1, url="https://soundcloud.com/a/z", duration_ms=1000,
                  availability=Availability.DRM)  # fmt: skip
    assert DownloadRequest.of(track) == DownloadRequest("https://soundcloud.com/a/z", 7, 1.0, "drm")


# -- one api-v2 request per track: the stream-URL look-up, then the CDN ---------------


def _listed(emu: SoundCloudEmulator, tmp_path: Path, tracks: list) -> tuple:
    """A client that has read the tracks (the batched look-up), and the requests without
    the listing's verdicts, so the stream finder itself must tell previews and blocks."""
    emu.seed_client_id_cache(tmp_path / "cache")
    client = SoundCloudClient(PROXY_API_BASE, proxy=emu.proxy_url, cache_dir=tmp_path / "cache")
    client.fetch_track_json([t.id for t in tracks])
    emu.reset_counts()
    return client, [_request(t) for t in tracks]


def test_direct_path_costs_one_api_request_per_downloaded_track(tmp_path, numba_warm):
    with SoundCloudEmulator() as emu:
        tracks = {
            "ok": emu.add_track("label", bpm=124.0, key="A minor"),
            "original": emu.add_track("label", downloadable=True),
            "hls only": emu.add_track("label", protocols=("hls",)),
            "preview": emu.add_track("label", kind="preview"),
            "blocked": emu.add_track("label", kind="blocked"),
            "drm": emu.add_track("label", kind="drm"),
        }
        client, requests = _listed(emu, tmp_path, list(tracks.values()))
        with client:
            results = download_tracks(
                requests, tmp_path / "lib", client.youtube_dl, streams=direct_streams(client)
            )
        by_name = dict(zip(tracks, results, strict=True))
        counts, log = dict(emu.counts), list(emu.log)

    downloaded = [r for r in results if r.status == DownloadStatus.DOWNLOADED]
    assert [r.via for r in downloaded] == ["direct"] * 3
    assert by_name["ok"].format_id == "http_mp3_0_0"  # progressive before HLS, as yt-dlp
    assert by_name["original"].format_id == "download"  # the original upload wins
    assert by_name["hls only"].format_id == "hls_mp3_0_0"
    assert by_name["hls only"].duration_s == pytest.approx(24.0, abs=0.3)
    assert by_name["preview"].status == DownloadStatus.PREVIEW_ONLY
    assert by_name["preview"].reason == "only a 30-second preview is offered"
    assert by_name["blocked"].status == DownloadStatus.GEO_BLOCKED
    assert by_name["drm"].status == DownloadStatus.DRM
    # api-v2: one look-up per downloaded track (a stream URL, or the original's), nothing
    # for the others; the audio came from the CDN (progressive GET, HLS playlist+segments)
    api = {k: n for k, n in counts.items() if k in API_ENDPOINTS}
    assert api == {"format_info": 2, "track_download": 1}
    assert counts["stream"] == 1 and counts["hls_playlist"] == 1 and counts["hls_segment"] >= 2
    assert counts["original"] >= 1
    previews = [p for e, _, p in log if "/preview/" in p or "/0/30/" in p]
    assert previews == []
    features = analyze_file(by_name["hls only"].path)
    assert features.duration_s == pytest.approx(24.0, abs=0.3)


def test_direct_downloads_reuse_one_youtube_dl_per_thread_and_close_them(tmp_path):
    """A YoutubeDL per track built an HTTP session and loaded the CA certificates for
    each (~40 ms of CPU a track): each download thread keeps one, closed at the end."""
    with SoundCloudEmulator() as emu:
        tracks = [emu.add_track("label", seconds=6.0) for _ in range(6)]
        client, requests = _listed(emu, tmp_path, tracks)
        made = []

        def youtube_dl(params):
            ydl = client.youtube_dl(params)
            made.append(ydl)
            return ydl

        with client:
            results = download_tracks(
                requests, tmp_path / "lib", youtube_dl, max_workers=2,
                streams=direct_streams(client),
            )  # fmt: skip
    assert [r.status for r in results] == [DownloadStatus.DOWNLOADED] * 6
    assert [r.via for r in results] == ["direct"] * 6
    assert sorted(p.name for p in (tmp_path / "lib").glob("*.mp3")) == sorted(
        f"{t.id}.mp3" for t in tracks
    )
    assert 1 <= len(made) <= 2  # one per thread, not one per track
    assert all("_request_director" not in vars(ydl) for ydl in made)  # closed: no session left


def test_a_stale_stream_url_falls_back_to_yt_dlp_and_says_so(tmp_path):
    with SoundCloudEmulator() as emu:
        track = emu.add_track("label")
        client, requests = _listed(emu, tmp_path, [track])
        emu.inject_error(404)  # the transcoding's look-up: api-v2 no longer knows it
        with client:
            [result] = download_tracks(
                requests, tmp_path / "lib", client.youtube_dl, streams=direct_streams(client)
            )
            budget = client.budget.stats()
        api_requests = emu.api_requests
    assert result.status == DownloadStatus.DOWNLOADED
    assert result.via == "yt-dlp" and "no stream URL" in (result.fallback or "")
    assert result.attempts == 1  # the fallback is not a failed attempt
    # the failed look-up, then yt-dlp's resolve and its look-ups: each took a budget slot
    # (as did the listing's batched look-up before them)
    assert api_requests >= 3 and budget["requests"] == api_requests + 1


def test_rows_without_transcodings_are_looked_up_together(tmp_path):
    with SoundCloudEmulator() as emu:
        tracks = [emu.add_track("label") for _ in range(3)]
        emu.seed_client_id_cache(tmp_path / "cache")
        rows = [{"soundcloud_id": t.id, "url": t.permalink_url, "duration_ms": 24_000}
                for t in tracks]  # a catalog from before this release  # fmt: skip
        with SoundCloudClient(
            PROXY_API_BASE, proxy=emu.proxy_url, cache_dir=tmp_path / "cache"
        ) as client:
            results = download_tracks(
                rows, tmp_path / "lib", client.youtube_dl, streams=direct_streams(client, rows)
            )
        api = {k: n for k, n in emu.counts.items() if k in API_ENDPOINTS}
    assert [r.via for r in results] == ["direct"] * 3
    assert api == {"tracks_batch": 1, "format_info": 3}


def _download_one(proxy: str, cache: str, request: DownloadRequest, dest: str, start) -> str:
    with SoundCloudClient(PROXY_API_BASE, proxy=proxy, cache_dir=Path(cache)) as client:
        start.wait()
        [result] = download_tracks(
            [request], dest, client.youtube_dl, streams=direct_streams(client)
        )
    return str(result.status)


def test_two_processes_downloading_one_track_fetch_it_once(tmp_path):
    """Two runs whose playlists share a track download side by side (the soundcloud_api
    pool admits several): the track is fetched once, the other run finds the file."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with SoundCloudEmulator(latency=0.05) as emu:
        track = emu.add_track("label")
        emu.seed_client_id_cache(tmp_path / "cache")
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Manager().Barrier(2)
        args = (emu.proxy_url, str(tmp_path / "cache"), _request(track), str(tmp_path / "lib"))
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            runs = [pool.submit(_download_one, *args, start) for _ in range(2)]
            outcomes = sorted(run.result() for run in runs)
        streams = emu.counts["stream"]
    assert outcomes == ["downloaded", "skipped-existing"]
    assert streams == 1
