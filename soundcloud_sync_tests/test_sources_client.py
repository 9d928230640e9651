"""SoundCloudClient against the api-v2 emulator: URL forms, errors, budgets, recovery."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from yt_dlp import YoutubeDL
from yt_dlp.cache import Cache
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

from soundcloud_sync.config import Settings
from soundcloud_sync.defs.resources import resources_for
from soundcloud_sync.sources import (
    Availability,
    EmptyPlaylist,
    NotAPlaylist,
    NotASoundCloudUrl,
    PlaylistNotFound,
    PlaylistPrivate,
    SoundCloudClient,
    SoundCloudUnavailable,
    SourceError,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- URL forms


@pytest.mark.parametrize(
    "form",
    [
        "https://soundcloud.com/dj-kaia/sets/late-night",
        "http://m.soundcloud.com/DJ-Kaia/sets/Late-Night/",
        "https://www.soundcloud.com/dj-kaia/sets/late-night?si=0a1b2c&utm_source=clipboard&utm_medium=text&utm_campaign=social_sharing",
        "soundcloud.com/dj-kaia/sets/late-night#t=0:30",
        "dj-kaia/sets/late-night",
    ],
)
def test_every_url_form_reads_the_same_playlist(soundcloud_emulator, soundcloud_client, form):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 7)
    playlist = soundcloud_client.fetch_playlist(form)
    assert playlist.key == "dj-kaia/sets/late-night"
    assert playlist.soundcloud_id == made.id
    assert [t.soundcloud_id for t in playlist.tracks] == made.track_ids


@pytest.mark.parametrize(
    "form",
    [
        "https://soundcloud.com/dj-kaia/sets/secret-set/{token}",
        "https://m.soundcloud.com/dj-kaia/sets/secret-set/{token}?si=abc&utm_source=x",
        "https://soundcloud.com/dj-kaia/sets/secret-set?secret_token={token}",
    ],
)
def test_private_set_with_its_token_is_read_in_full(
    soundcloud_emulator, soundcloud_client, form, caplog
):
    made = soundcloud_emulator.add_playlist("dj-kaia", "secret-set", 60, private=True)
    caplog.set_level(logging.DEBUG)
    playlist = soundcloud_client.fetch_playlist(form.format(token=made.secret_token))
    assert made.secret_token.split("-", 1)[1] not in caplog.text  # not even in debug lines
    assert playlist.key == "dj-kaia/sets/secret-set"
    assert playlist.secret_token == made.secret_token
    assert [t.soundcloud_id for t in playlist.tracks] == made.track_ids
    # Its tracks are private too: only the playlistId + playlistSecretToken lookup reads them.
    assert all(t.availability is Availability.OK for t in playlist.tracks)
    assert soundcloud_client.request_count == {"resolve": 1, "tracks": 2}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://www.youtube.com/playlist?list=PL123", NotASoundCloudUrl),
        ("https://on.soundcloud.com/AbCdEf", NotASoundCloudUrl),
        ("ftp://soundcloud.com/dj-kaia/sets/late-night", NotASoundCloudUrl),
        ("https://soundcloud.com/dj-kaia/sunrise-edit/extra", NotAPlaylist),
        ("https://soundcloud.com/dj-kaia", NotAPlaylist),
        ("https://soundcloud.com/dj-kaia/sets", NotAPlaylist),
        ("https://soundcloud.com/dj-kaia/reposts", NotAPlaylist),
        ("https://soundcloud.com/dj-kaia/likes/extra", NotAPlaylist),
    ],
)
def test_bad_urls_fail_before_any_request(soundcloud_emulator, soundcloud_client, url, error):
    with pytest.raises(error) as caught:
        soundcloud_client.fetch_playlist(url)
    assert url in str(caught.value)
    assert soundcloud_emulator.api_requests == 0


def test_missing_playlist_is_not_found(soundcloud_emulator, soundcloud_client):
    url = "https://soundcloud.com/nobody-here/sets/nothing"
    with pytest.raises(PlaylistNotFound, match="nobody-here/sets/nothing"):
        soundcloud_client.fetch_playlist(url)


def test_private_set_without_token_says_it_may_need_one(soundcloud_emulator, soundcloud_client):
    soundcloud_emulator.add_playlist("dj-kaia", "secret-set", 3, private=True)
    url = "https://soundcloud.com/dj-kaia/sets/secret-set"
    with pytest.raises(PlaylistNotFound) as caught:
        soundcloud_client.fetch_playlist(url)
    assert url in str(caught.value) and "secret" in str(caught.value)


def test_private_set_refused_with_403_is_private(soundcloud_emulator, soundcloud_client):
    soundcloud_emulator.private_status = 403
    soundcloud_emulator.add_playlist("dj-kaia", "secret-set", 3, private=True)
    url = "https://soundcloud.com/dj-kaia/sets/secret-set"
    with pytest.raises(PlaylistPrivate, match="private, or needs its secret token") as caught:
        soundcloud_client.fetch_playlist(url)
    assert url in str(caught.value)
    # The refusal first looks like a stale client id: refreshed exactly once, then given up.
    assert soundcloud_client.request_count["client_id"] == 1
    assert soundcloud_emulator.counts["resolve"] == 2


def test_wrong_secret_token_is_not_found_and_token_is_not_shown(
    soundcloud_emulator, soundcloud_client
):
    soundcloud_emulator.add_playlist("dj-kaia", "secret-set", 3, private=True)
    with pytest.raises(PlaylistNotFound, match="secret token is wrong") as caught:
        soundcloud_client.fetch_playlist("https://soundcloud.com/dj-kaia/sets/secret-set/s-WrOnG1")
    assert "dj-kaia/sets/secret-set" in str(caught.value)
    assert "s-WrOnG1" not in str(caught.value)


def test_empty_playlist(soundcloud_emulator, soundcloud_client):
    soundcloud_emulator.add_playlist("dj-kaia", "nothing-yet", 0)
    with pytest.raises(EmptyPlaylist, match="dj-kaia/sets/nothing-yet"):
        soundcloud_client.fetch_playlist("https://soundcloud.com/dj-kaia/sets/nothing-yet")


def test_network_down_is_unavailable_and_keeps_secrets(tmp_path):
    client = SoundCloudClient(
        api_base=f"http://127.0.0.1:{_closed_port()}/",
        client_id="SeCrEtClIeNtId0123456789abcdefAB",
        oauth_token="2-123456-oauth-SECRET",
        cache_dir=tmp_path,
        sleep=lambda _s: None,
    )
    url = "https://soundcloud.com/dj-kaia/sets/late-night"
    with pytest.raises(SoundCloudUnavailable) as caught:
        client.fetch_playlist(url)
    message = str(caught.value)
    assert url in message and "cannot reach SoundCloud" in message
    assert "SeCrEtClIeNtId" not in message and "SECRET" not in message


def test_secrets_never_reach_errors_or_logs(soundcloud_emulator, tmp_path, caplog):
    token = "2-999999-oauth-SECRET"
    soundcloud_emulator.oauth_tokens.add(token)
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url,
        client_id=soundcloud_emulator.client_id,
        oauth_token=token,
        cache_dir=tmp_path,
    )
    caplog.set_level(logging.DEBUG)
    soundcloud_emulator.add_playlist("dj-kaia", "late-night", 8)
    client.fetch_playlist("dj-kaia/sets/late-night")
    with pytest.raises(SourceError) as caught:
        client.fetch_playlist("dj-kaia/sets/missing")
    for text in (str(caught.value), caplog.text):
        assert soundcloud_emulator.client_id not in text
        assert token not in text


# --------------------------------------------------------------------------- budgets, content


def test_500_tracks_cost_11_requests_in_order_with_gone_tracks(
    soundcloud_emulator, soundcloud_client
):
    kinds = {3: "preview", 40: "blocked", 77: "gone", 260: "drm", 499: "gone"}
    made = soundcloud_emulator.add_playlist("big-curator", "five-hundred", 500, kinds=kinds)
    playlist = soundcloud_client.fetch_playlist(made.url)

    assert soundcloud_emulator.api_requests <= 11
    assert soundcloud_client.total_requests == soundcloud_emulator.api_requests == 11
    assert soundcloud_emulator.counts["tracks_batch"] == 10
    assert [t.soundcloud_id for t in playlist.tracks] == made.track_ids
    assert [t.position for t in playlist.tracks] == list(range(1, 501))
    for track in playlist.tracks:
        emu_track = soundcloud_emulator.tracks[track.soundcloud_id]
        expected = emu_track.kind if emu_track.kind != "ok" else None
        if track.availability is Availability.GONE:
            assert expected == "gone" and track.title is None
            continue
        assert track.title == emu_track.title
        assert track.artist == (emu_track.publisher_artist or emu_track.user.username)
        assert track.uploader == emu_track.user.username
        assert track.isrc == emu_track.isrc
    by_position = {t.position: t.availability for t in playlist.tracks}
    assert by_position[3] is Availability.PREVIEW_ONLY
    assert by_position[40] is Availability.GEO_BLOCKED
    assert by_position[77] is by_position[499] is Availability.GONE
    assert by_position[260] is Availability.DRM
    assert sum(a is Availability.OK for a in by_position.values()) == 495
    assert playlist.track_count == 500 and playlist.ids_complete


def test_track_fields(soundcloud_emulator, soundcloud_client):
    track = soundcloud_emulator.add_track(
        "label-uploads",
        "Sunrise (Extended Mix)",
        genre=" Deep House ",
        tags=["deep house", "vinyl", "late night"],
        publisher_artist="Mira Vale",
        isrc="QZES52400001",
        album_title="Sunrise EP",
        downloadable=True,
    )
    made = soundcloud_emulator.add_playlist("dj-kaia", "fields", 6, tracks=[track])
    first = soundcloud_client.fetch_playlist(made.url).tracks[0]
    assert first.title == "Sunrise (Extended Mix)"
    assert first.artist == "Mira Vale" and first.uploader == "Label Uploads"
    assert first.genre == "Deep House"
    assert first.tags == ("deep house", "vinyl", "late night")
    assert first.isrc == "QZES52400001" and first.album == "Sunrise EP"
    assert first.downloadable
    assert first.url == f"https://soundcloud.com/label-uploads/{track.permalink}"
    assert first.artwork_url is not None and first.artwork_url.endswith("-t500x500.jpg")
    assert first.duration_ms == 24000
    # The raw object stays available for the audio download (transcodings, downloadable).
    raw = soundcloud_client.raw_tracks[track.id]
    assert {t["format"]["protocol"] for t in raw["media"]["transcodings"]} == {"hls", "progressive"}


def test_preview_track_is_full_with_a_go_plus_token(soundcloud_emulator, tmp_path):
    soundcloud_emulator.oauth_tokens.add("2-555-goplus")
    made = soundcloud_emulator.add_playlist(
        "dj-kaia", "go-plus", 8, kinds={2: "preview", 7: "preview"}
    )
    soundcloud_emulator.seed_client_id_cache(tmp_path)
    anonymous = SoundCloudClient(api_base=soundcloud_emulator.base_url, cache_dir=tmp_path)
    subscriber = SoundCloudClient(
        api_base=soundcloud_emulator.base_url, cache_dir=tmp_path, oauth_token="2-555-goplus"
    )
    previews = [t.availability for t in anonymous.fetch_playlist(made.url).tracks]
    full = [t.availability for t in subscriber.fetch_playlist(made.url).tracks]
    assert previews[1] is previews[6] is Availability.PREVIEW_ONLY
    assert set(full) == {Availability.OK}


def test_track_count_larger_than_listed_ids_is_recorded(soundcloud_emulator, soundcloud_client):
    made = soundcloud_emulator.add_playlist("dj-kaia", "hidden-ones", 12, hidden=3)
    playlist = soundcloud_client.fetch_playlist(made.url)
    assert len(playlist.tracks) == 12
    assert playlist.track_count == 15
    assert not playlist.ids_complete
    assert playlist.metadata()["ids_complete"] is False


def test_check_playlist_is_one_request_and_notices_changes(soundcloud_emulator, soundcloud_client):
    made = soundcloud_emulator.add_playlist("dj-kaia", "growing", 120)
    before = soundcloud_client.check_playlist(made.url)
    assert soundcloud_emulator.api_requests == 1
    assert before.track_ids == tuple(made.track_ids) and before.ids_complete
    assert before.key == "dj-kaia/sets/growing" and before.track_count == 120

    soundcloud_emulator.append_tracks(made, 2)
    after = soundcloud_client.check_playlist(made.url)
    assert after.track_count == 122 and after.track_ids[:120] == before.track_ids
    assert after.ids_hash != before.ids_hash
    assert after.last_modified != before.last_modified
    assert soundcloud_client.check_playlist(made.url).ids_hash == after.ids_hash


def test_the_resource_client_reads_through_the_configured_base(
    soundcloud_emulator, soundcloud_settings
):
    soundcloud_emulator.add_playlist("dj-kaia", "late-night", 6)
    with (
        resources_for(soundcloud_settings) as resources,
        resources.soundcloud.client() as client,
    ):
        playlist = client.fetch_playlist("dj-kaia/sets/late-night")
    assert len(playlist.tracks) == 6


# --------------------------------------------------------------------------- recovery


def test_429_with_retry_after_is_waited_out(soundcloud_emulator, soundcloud_cache_dir):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 60)
    waits: list[float] = []
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url, cache_dir=soundcloud_cache_dir, sleep=waits.append
    )
    soundcloud_emulator.inject_429(times=2, retry_after=3)
    playlist = client.fetch_playlist(made.url)
    assert len(playlist.tracks) == 60
    assert waits == [3.0, 3.0]
    assert soundcloud_emulator.statuses[429] == 2
    assert client.request_count == {"resolve": 3, "tracks": 2}


def test_429_beyond_the_wait_budget_is_unavailable(soundcloud_emulator, soundcloud_cache_dir):
    soundcloud_emulator.add_playlist("dj-kaia", "late-night", 6)
    waits: list[float] = []
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url,
        cache_dir=soundcloud_cache_dir,
        max_wait=60,
        sleep=waits.append,
    )
    soundcloud_emulator.inject_429(times=10, retry_after=25)
    url = "https://soundcloud.com/dj-kaia/sets/late-night"
    with pytest.raises(SoundCloudUnavailable, match="429") as caught:
        client.fetch_playlist(url)
    assert url in str(caught.value)
    assert waits == [25.0, 25.0]  # a third wait would pass the 60 s budget


def test_sliding_window_rate_limit_is_respected(soundcloud_cache_dir):
    with SoundCloudEmulator(rate_limit=3, rate_window=1.0) as emulator:
        emulator.seed_client_id_cache(soundcloud_cache_dir)
        sets = [emulator.add_playlist("dj-kaia", f"set-{i}", 60) for i in range(3)]
        client = SoundCloudClient(api_base=emulator.base_url, cache_dir=soundcloud_cache_dir)
        read = [client.fetch_playlist(s.url) for s in sets]
    assert [len(p.tracks) for p in read] == [60, 60, 60]
    assert emulator.statuses[429] >= 1
    assert emulator.statuses[200] == 9  # 3 resolves + 6 batches


def test_stale_cached_client_id_is_refreshed_once(
    soundcloud_emulator, soundcloud_client, soundcloud_cache_dir
):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 30)
    soundcloud_client.fetch_playlist(made.url)
    fresh = soundcloud_emulator.rotate_client_id()
    playlist = soundcloud_client.fetch_playlist(made.url)
    assert len(playlist.tracks) == 30
    assert soundcloud_client.request_count["client_id"] == 1
    assert soundcloud_emulator.counts["web"] >= 2  # the page, then its scripts
    with YoutubeDL({"cachedir": str(soundcloud_cache_dir), "quiet": True}, auto_init=False) as ydl:
        assert Cache(ydl).load("soundcloud", "client_id") == fresh


def test_stale_configured_client_id_is_refreshed(soundcloud_emulator, tmp_path):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 8)
    stale = soundcloud_emulator.client_id
    soundcloud_emulator.rotate_client_id()
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url, client_id=stale, cache_dir=tmp_path
    )
    assert len(client.fetch_playlist(made.url).tracks) == 8
    assert client.request_count == {"resolve": 2, "client_id": 1, "tracks": 1}


def test_client_id_that_cannot_be_renewed_is_unavailable(soundcloud_emulator, tmp_path):
    soundcloud_emulator.add_playlist("dj-kaia", "late-night", 8)
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url,
        client_id="StaleStaleStaleStaleStaleStale00",
        cache_dir=tmp_path,
        web_base=f"http://127.0.0.1:{_closed_port()}/",
    )
    with pytest.raises(SoundCloudUnavailable, match="SOUNDCLOUD_CLIENT_ID") as caught:
        client.fetch_playlist("dj-kaia/sets/late-night")
    assert "StaleStale" not in str(caught.value)


def test_no_client_id_anywhere_is_scraped_from_the_web_page(soundcloud_emulator, tmp_path):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 8)
    empty_cache = tmp_path / "empty-cache"
    client = SoundCloudClient(api_base=soundcloud_emulator.base_url, cache_dir=empty_cache)
    assert len(client.fetch_playlist(made.url).tracks) == 8
    assert Path(empty_cache, "soundcloud", "client_id.json").exists()


def test_settings_home_holds_the_client_id_cache(tmp_path):
    settings = Settings(home=tmp_path)
    with resources_for(settings) as resources:
        client = resources.soundcloud.client()
    assert client.api_base == "https://api-v2.soundcloud.com/"
    assert client._ydl.params["cachedir"] == str(tmp_path / "cache" / "yt-dlp")


# --------------------------------------------------------------------------- yt-dlp for downloads


def test_youtube_dl_downloads_through_the_client_settings(soundcloud_emulator, tmp_path):
    """What the audio download uses: yt-dlp with our base, id and token, yt-dlp itself unpatched."""
    emu = soundcloud_emulator
    emu.oauth_tokens.add("2-777-goplus")
    track = emu.add_track("dj-kaia", "Go Plus Cut", kind="preview", seconds=8)
    stale = emu.client_id
    emu.rotate_client_id()
    client = SoundCloudClient(
        api_base=emu.base_url, client_id=stale, oauth_token="2-777-goplus", cache_dir=tmp_path
    )
    outtmpl = str(tmp_path / "%(id)s.%(ext)s")
    with client.youtube_dl({"format": "http_mp3_0_0", "outtmpl": outtmpl}) as ydl:
        info = ydl.extract_info(track.permalink_url, download=True)
    assert info["id"] == str(track.id)
    assert not info["format_id"].endswith("_preview")  # the Go+ token unlocks the full track
    assert Path(info["requested_downloads"][0]["filepath"]).stat().st_size > 50_000
    assert emu.counts["web"] >= 2  # the stale configured id was refreshed by yt-dlp's mechanism
    assert SoundcloudBaseIE._API_V2_BASE == "https://api-v2.soundcloud.com/"


def test_5xx_is_retried_with_backoff(soundcloud_emulator, soundcloud_cache_dir):
    made = soundcloud_emulator.add_playlist("dj-kaia", "late-night", 8)
    waits: list[float] = []
    client = SoundCloudClient(
        api_base=soundcloud_emulator.base_url, cache_dir=soundcloud_cache_dir, sleep=waits.append
    )
    soundcloud_emulator.inject_error(503, times=2)
    assert len(client.fetch_playlist(made.url).tracks) == 8
    assert waits == [1.0, 2.0]
    assert soundcloud_emulator.statuses[503] == 2


def test_client_through_the_proxy_with_the_real_api_base(soundcloud_emulator, tmp_path):
    """SOUNDCLOUD_PROXY + the real host names: the same reads, the id scraped from soundcloud.com."""
    made = soundcloud_emulator.add_playlist("dj-kaia", "via-proxy", 75, kinds={9: "gone"})
    client = SoundCloudClient(
        api_base="http://api-v2.soundcloud.com/",
        proxy=soundcloud_emulator.proxy_url,
        cache_dir=tmp_path / "empty",
    )
    playlist = client.fetch_playlist(made.url)
    assert [t.soundcloud_id for t in playlist.tracks] == made.track_ids
    assert playlist.tracks[8].availability is Availability.GONE
    assert client.request_count == {"resolve": 1, "tracks": 2}
    assert soundcloud_emulator.counts["web"] >= 2  # http://soundcloud.com/ and its script
    assert playlist.artwork_url is not None and playlist.artwork_url.startswith(
        "http://i1.sndcdn.com/"
    )
