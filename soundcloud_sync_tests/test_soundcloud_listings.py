"""SoundCloud beyond sets: a user's likes and uploads, and tracks added by hand.

The URL parser's forms and keys, then the SoundCloud client against the emulator's
paginated ``/users/<id>/likes`` and ``/tracks`` (through yt-dlp's network stack).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import SensorResult, SkipReason, build_sensor_context, instance_for_test

from soundcloud_sync.catalog import Catalog
from soundcloud_sync.defs import sensors
from soundcloud_sync.defs.partitions import PLAYLISTS
from soundcloud_sync.defs.resources import CatalogResource, RegistryResource
from soundcloud_sync.errors import SoundCloudSyncError
from soundcloud_sync.sources import (
    Availability,
    PlaylistNotFound,
    PlaylistRef,
    SinglesRef,
    SoundCloudClient,
    TrackRef,
    UserListingRef,
    is_playlist_key,
    parse_playlist_url,
    registry_url,
)
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator
from soundcloud_sync_tests.test_sensor_budget import Watched, watch


@pytest.mark.parametrize(
    ("url", "kind", "key", "public"),
    [
        ("https://soundcloud.com/DJ-Kay/likes?utm_source=clipboard", UserListingRef,
         "dj-kay/likes", "https://soundcloud.com/dj-kay/likes"),
        ("m.soundcloud.com/dj-kay/tracks/", UserListingRef, "dj-kay/tracks",
         "https://soundcloud.com/dj-kay/tracks"),
        ("dj-kay/likes", UserListingRef, "dj-kay/likes", "https://soundcloud.com/dj-kay/likes"),
        ("https://www.soundcloud.com/label-a/night-drive?in=dj-kay/sets/x", TrackRef,
         "label-a/singles", "https://soundcloud.com/label-a/night-drive"),
        ("https://soundcloud.com/label-a/night-drive/s-AbC123xyz", TrackRef, "label-a/singles",
         "https://soundcloud.com/label-a/night-drive"),
        # a track whose slug is "singles" is a track; only the bare key names the listing
        ("https://soundcloud.com/label-a/singles", TrackRef, "label-a/singles",
         "https://soundcloud.com/label-a/singles"),
        ("label-a/singles", SinglesRef, "label-a/singles", "https://soundcloud.com/label-a"),
        ("https://soundcloud.com/label-a/sets/likes", PlaylistRef, "label-a/sets/likes",
         "https://soundcloud.com/label-a/sets/likes"),
    ],
)  # fmt: skip
def test_each_url_form_has_one_key(url: str, kind: type, key: str, public: str) -> None:
    ref = parse_playlist_url(url)
    assert isinstance(ref, kind)
    assert (ref.key, ref.public_url) == (key, public)
    assert is_playlist_key(ref.key)
    # the partition's registered URL reads back as the same listing
    assert parse_playlist_url(registry_url(ref)).key == key


def test_a_private_tracks_token_stays_out_of_the_key_and_public_url() -> None:
    ref = parse_playlist_url("https://soundcloud.com/label-a/demo/s-AbC123xyz")
    assert isinstance(ref, TrackRef)
    assert "s-AbC123xyz" in ref.url
    assert "s-AbC123xyz" not in ref.key + ref.public_url + registry_url(ref) + repr(ref)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://soundcloud.com/dj-kay", "a profile is not one list"),
        ("https://soundcloud.com/dj-kay/reposts", "this user page is not synced"),
        ("https://soundcloud.com/dj-kay/likes/more", "this user page is not synced"),
        ("https://soundcloud.com/dj-kay/some-track/extra", "unexpected path"),
    ],
)
def test_other_soundcloud_pages_are_refused_naming_the_accepted_forms(
    url: str, reason: str
) -> None:
    with pytest.raises(SoundCloudSyncError) as caught:
        parse_playlist_url(url)
    message = str(caught.value)
    assert message.startswith(url) and reason in message
    assert "/<user>/likes, /<user>/tracks" in message and "\n" not in message


def test_keys_of_the_kinds_never_collide() -> None:
    keys = {
        parse_playlist_url(u).key
        for u in ("https://soundcloud.com/likes/likes", "https://soundcloud.com/likes/tracks",
                  "https://soundcloud.com/likes/sets/likes", "https://soundcloud.com/likes/x",
                  "https://soundcloud.com/tracks/sets/tracks")
    }  # fmt: skip
    assert keys == {"likes/likes", "likes/tracks", "likes/sets/likes", "likes/singles",
                    "tracks/sets/tracks"}  # fmt: skip


def test_likes_walk_every_page_newest_first_and_skip_liked_playlists(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_client: SoundCloudClient
) -> None:
    emu = soundcloud_emulator
    tracks = [emu.add_track(f"artist-{i}") for i in range(5)]
    liked_set = emu.add_playlist("label-a", "summer", 2)
    for track in tracks[:3]:
        emu.like("dj-kay", track)
    emu.like("dj-kay", liked_set)
    for track in tracks[3:]:
        emu.like("dj-kay", track)
    emu.delete_track(tracks[1].id)  # a liked track deleted by its uploader: not listed
    soundcloud_client.page_size = 2
    emu.reset_counts()

    likes = soundcloud_client.fetch_playlist("https://soundcloud.com/dj-kay/likes")

    assert [t.soundcloud_id for t in likes.tracks] == [tracks[i].id for i in (4, 3, 2, 0)]
    assert [t.position for t in likes.tracks] == [1, 2, 3, 4]
    assert (likes.key, likes.title, likes.curator) == ("dj-kay/likes", "Dj Kay — Likes", "Dj Kay")
    assert likes.track_count == 4 and likes.ids_complete
    assert [(e.position, e.name) for e in likes.skipped] == [(3, "Summer")]
    assert "liked playlist" in likes.skipped[0].reason
    # 1 resolve of the profile + 3 pages of 2 (5 entries), each one request
    assert (emu.counts["resolve"], emu.counts["user_likes"]) == (1, 3)
    assert all(t.title and t.url and t.availability == Availability.OK for t in likes.tracks)


def test_uploads_and_the_one_request_check(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_client: SoundCloudClient
) -> None:
    emu = soundcloud_emulator
    mine = [emu.add_track("label-a", created_at=f"2025-0{i}-01T00:00:00Z") for i in range(1, 4)]
    emu.add_track("someone-else")
    uploads = soundcloud_client.fetch_playlist("https://soundcloud.com/label-a/tracks")
    assert [t.soundcloud_id for t in uploads.tracks] == [t.id for t in reversed(mine)]
    assert uploads.title == "Label A — Uploads" and uploads.set_type == "uploads"

    emu.reset_counts()
    user_id = uploads.soundcloud_id
    check = soundcloud_client.check_playlist("https://soundcloud.com/label-a/tracks", user_id)
    assert emu.api_requests == 1  # the newest entries only
    assert check.ids_hash == uploads.snapshot_id
    emu.add_track("label-a", created_at="2025-06-01T00:00:00Z")
    assert soundcloud_client.check_playlist(uploads.url, user_id).ids_hash != uploads.snapshot_id


def test_an_unknown_user_and_a_misspelled_track_are_errors_naming_them(
    soundcloud_client: SoundCloudClient, soundcloud_emulator: SoundCloudEmulator
) -> None:
    with pytest.raises(
        PlaylistNotFound, match=r"^https://soundcloud.com/nobody-here/likes: .*no user"
    ):
        soundcloud_client.fetch_playlist("https://soundcloud.com/nobody-here/likes")
    soundcloud_emulator.add_user("label-a")
    with pytest.raises(PlaylistNotFound, match=r"^https://soundcloud.com/label-a/nope: no such"):
        soundcloud_client.fetch_playlist("https://soundcloud.com/label-a/nope")


def test_hand_picked_tracks_by_id_in_one_batch_a_deleted_one_stays_gone(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_client: SoundCloudClient
) -> None:
    emu = soundcloud_emulator
    a, b = emu.add_track("label-a", "First Pick"), emu.add_track("label-a", "Second Pick")
    singles = SinglesRef("label-a")
    first, resolved = soundcloud_client.fetch_singles(
        singles, [(f"https://soundcloud.com/label-a/{a.permalink}", None)]
    )
    assert [t.soundcloud_id for t in first.tracks] == [a.id]
    assert resolved == {f"https://soundcloud.com/label-a/{a.permalink}": a.id}
    assert (first.key, first.title) == ("label-a/singles", "Label A — Singles")

    emu.delete_track(a.id)
    emu.reset_counts()
    picks = [(url, a.id) for url in resolved] + [(b.permalink_url, None)]
    second, _ = soundcloud_client.fetch_singles(singles, picks)
    assert [(t.soundcloud_id, t.availability) for t in second.tracks] == [
        (a.id, Availability.GONE), (b.id, Availability.OK),
    ]  # fmt: skip
    assert (emu.counts["tracks_batch"], emu.counts["resolve"]) == (1, 1)


# --------------------------------------------------------------------------- sensors


@pytest.fixture
def fourteen_sets(
    soundcloud_emulator: SoundCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watched]:
    yield from watch(soundcloud_emulator, tmp_path, 14, monkeypatch)


def test_the_sensor_checks_likes_within_the_same_budget_and_never_singles(
    fourteen_sets: Watched,
) -> None:
    watched, emu = fourteen_sets, fourteen_sets.emulator
    emu.like("a-kay", emu.add_track("artist-1"))
    watched.instance.add_dynamic_partitions(PLAYLISTS, ["a-kay/likes", "a-kay/singles"])
    assert sensors.checks_per_tick() == 15

    # Never listed: its first sync is requested without a check (its run's listing is
    # the look); the tick checks the 14 sets, one request each.
    [first] = watched.tick()
    assert first.partition_key == "a-kay/likes" and first.run_key.startswith("a-kay/likes@first-")
    assert watched.requests_per_tick == [14]
    assert emu.counts["user_likes"] == 0

    with SoundCloudClient(
        api_base=PROXY_API_BASE, proxy=emu.proxy_url, client_id=emu.client_id,
        cache_dir=watched.resources["soundcloud"].cache_dir,
    ) as client:  # fmt: skip
        watched.catalog.record_playlist(client.fetch_playlist("a-kay/likes"))  # its run

    recheck_ticks = sensors.MIN_RECHECK_SECONDS // sensors.SENSOR_INTERVAL_SECONDS
    emu.reset_counts()
    assert watched.ticks(recheck_ticks + 1) == []  # unchanged: nothing requested
    # the 14 sets and the likes (its user's id now known from its run) once more: one
    # request each (the newest likes, no resolve)
    assert emu.counts["user_likes"] == 1 and emu.counts["resolve"] == 14
    emu.like("a-kay", emu.add_track("artist-2"))
    [liked] = watched.ticks(recheck_ticks + 1)
    assert liked.partition_key == "a-kay/likes" and liked.run_key != first.run_key
    singles = [path for _, _, path in emu.log if "singles" in path]
    assert singles == [] and emu.statuses[429] == 0


def test_a_track_in_the_registry_file_joins_its_singles(tmp_path: Path) -> None:
    listed = tmp_path / "playlists.yaml"
    listed.write_text("- https://soundcloud.com/label-a/first-pick?si=x\n"
                      "- https://soundcloud.com/dj-kay/likes\n")  # fmt: skip
    catalog = CatalogResource(url=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    resources = {"catalog": catalog, "registry": RegistryResource(playlists_file=str(listed))}
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources=resources)
        result = sensors.playlist_registry_sensor(context)
        assert isinstance(result, SensorResult)
        assert sorted(r.partition_key for r in result.run_requests or []) == [
            "dj-kay/likes", "label-a/singles",
        ]  # fmt: skip
        store = catalog.catalog()
        first = "https://soundcloud.com/label-a/first-pick"
        assert store.picks("label-a/singles") == [(first, None)]
        assert (store.playlist("label-a/singles") or {})["url"] == "label-a/singles"

        # a track URL typed into the UI's "add partition" dialog joins the same list
        instance.add_dynamic_partitions(PLAYLISTS, ["dj-kay/likes", "label-a/singles"])
        typed = "https://soundcloud.com/label-a/a-later-pick"  # sorts first, added last
        instance.add_dynamic_partitions(PLAYLISTS, [typed])
        context = build_sensor_context(
            instance=instance, cursor=context.cursor, resources=resources
        )
        result = sensors.playlist_registry_sensor(context)
        assert isinstance(result, SensorResult)
        assert [r.partition_key for r in result.run_requests or []] == ["label-a/singles"]
        [dropped] = result.dynamic_partitions_requests or []
        assert list(dropped.partition_keys) == [typed]
        assert [url for url, _ in store.picks("label-a/singles")] == [first, typed]
        instance.delete_dynamic_partition(PLAYLISTS, typed)

        def tick(text: str) -> SensorResult | SkipReason:
            nonlocal context
            listed.write_text(text)
            context = build_sensor_context(
                instance=instance, cursor=context.cursor, resources=resources
            )
            return sensors.playlist_registry_sensor(context)

        # the file's own track leaves, another comes: one run of the list, no partition lost
        third = "https://soundcloud.com/label-a/third-pick"
        again = tick(f"- {third}\n- https://soundcloud.com/dj-kay/likes\n")
        assert isinstance(again, SensorResult) and not again.dynamic_partitions_requests
        assert [r.partition_key for r in again.run_requests or []] == ["label-a/singles"]
        assert [url for url, _ in store.picks("label-a/singles")] == [typed, third]
        assert isinstance(tick(f"- {third}\n- https://soundcloud.com/dj-kay/likes\n"), SkipReason)
        # every line of label-a gone: the track typed in the UI keeps its list registered
        last = tick("- https://soundcloud.com/dj-kay/likes\n")
        assert isinstance(last, SensorResult) and not last.dynamic_partitions_requests
        assert [url for url, _ in store.picks("label-a/singles")] == [typed]


def test_every_like_taken_back_unlinks_every_track(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_client: SoundCloudClient, tmp_path: Path
) -> None:
    """An empty walk is a complete listing too: nothing liked any more."""
    emu = soundcloud_emulator
    liked = [emu.add_track("artist-1"), emu.add_track("artist-2")]
    for track in liked:
        emu.like("dj-kay", track)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    first = catalog.record_playlist(soundcloud_client.fetch_playlist("dj-kay/likes"))
    assert sorted(first.added) == sorted(t.id for t in liked)
    for track in liked:
        emu.unlike("dj-kay", track)
    empty = soundcloud_client.fetch_playlist("dj-kay/likes")
    assert empty.tracks == () and empty.track_count == 0
    change = catalog.record_playlist(empty)
    assert sorted(change.removed) == sorted(t.id for t in liked) and change.removals_trusted
    assert catalog.playlist_tracks("dj-kay/likes").empty
    assert sorted(catalog.tracks_by_id(t.id for t in liked)) == sorted(t.id for t in liked)


def test_a_private_track_is_read_with_its_token_every_time(
    soundcloud_emulator: SoundCloudEmulator,
    soundcloud_client: SoundCloudClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = soundcloud_emulator
    secret = emu.add_track("label-a", "Promo Only", private=True, secret_token="s-Pr1vAtE00x")
    url = f"https://soundcloud.com/label-a/{secret.permalink}/s-Pr1vAtE00x"
    singles, ids = soundcloud_client.fetch_singles(SinglesRef("label-a"), [(url, None)])
    assert [t.title for t in singles.tracks] == ["Promo Only"] and ids == {url: secret.id}
    emu.reset_counts()
    again, _ = soundcloud_client.fetch_singles(SinglesRef("label-a"), [(url, secret.id)])
    assert [t.soundcloud_id for t in again.tracks] == [secret.id]
    assert (emu.counts["resolve"], emu.counts["tracks_batch"]) == (1, 0)  # a batch cannot read it
    with pytest.raises(PlaylistNotFound) as caught:  # without its token: not found, token unshown
        soundcloud_client.fetch_playlist(url.rsplit("/", 1)[0])
    assert "s-Pr1vAtE00x" not in str(caught.value)
    assert "Pr1vAtE00x" not in caplog.text  # not even in yt-dlp's debug lines
