"""The Notion emulator behaves as external-apis.md says, seen through the real
notion-client (so the sync's tests stand on a faithful stand-in)."""

from __future__ import annotations

import pytest
from notion_client import APIResponseError, Client
from notion_client.errors import HTTPResponseError


@pytest.fixture
def client(notion_emulator):
    return Client(auth=notion_emulator.token, base_url=notion_emulator.base_url, retry=False)


def _error(fn, *args, **kwargs) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_databases_hold_data_sources_with_schemas(client, notion_catalog):
    db = client.databases.retrieve(notion_catalog.tracks_database_id)
    assert db["object"] == "database"
    assert [d["id"] for d in db["data_sources"]] == [notion_catalog.tracks_data_source_id]
    assert db["id"] != notion_catalog.tracks_data_source_id
    ds = client.data_sources.retrieve(notion_catalog.tracks_data_source_id)
    props = ds["properties"]
    assert props["Title"]["type"] == "title" and props["Title"]["id"] == "title"
    assert props["Duration (min)"]["type"] == "formula" and "Audio Energy" in props
    rel = props["Playlists"]["relation"]
    assert rel["data_source_id"] == notion_catalog.playlists_data_source_id
    assert rel["dual_property"]["synced_property_name"] == "Tracks"


def test_wrong_token_is_unauthorized(notion_emulator, notion_catalog):
    bad = Client(auth="secret_wrong", base_url=notion_emulator.base_url, retry=False)
    err = _error(bad.databases.retrieve, notion_catalog.tracks_database_id)
    assert err.status == 401 and err.code == "unauthorized"


def test_validation_errors_read_like_notions(client, notion_catalog):
    parent = {"type": "data_source_id", "data_source_id": notion_catalog.tracks_data_source_id}
    cases = [
        ({"Nope": {"rich_text": []}}, "Could not find property with name or id: Nope"),
        ({"Tempo": {"rich_text": []}}, "Tempo is expected to be number."),
        (
            {"Title": {"title": [{"type": "text", "text": {"content": "x" * 2001}}]}},
            "text.content.length should be ≤ `2000`, instead was `2001`.",
        ),
        (
            {"Notes": {"rich_text": [{"type": "text", "text": {"content": "x"}}] * 101}},
            "rich_text.length should be ≤ `100`, instead was `101`.",
        ),
        ({"Duration (min)": {"formula": {}}}, "cannot be updated"),
        ({"Genre": {"select": {"name": "Drum, Bass"}}}, "commas not allowed"),
    ]
    for properties, message in cases:
        err = _error(client.pages.create, parent=parent, properties=properties)
        assert err.status == 400 and err.code == "validation_error"
        assert message in str(err), (message, str(err))


def test_relations_over_100_are_refused(client, notion_emulator, notion_catalog):
    ds = notion_catalog.playlists_data_source_id
    ids = [notion_emulator.add_page(ds, {"Name": f"p{i}"}) for i in range(101)]
    parent = {"type": "data_source_id", "data_source_id": notion_catalog.tracks_data_source_id}
    err = _error(
        client.pages.create,
        parent=parent,
        properties={"Playlists": {"relation": [{"id": i} for i in ids]}},
    )
    assert "relation.length should be ≤ `100`" in str(err)


def test_two_way_relations_truncate_at_25_and_page_through_the_property(
    client, notion_emulator, notion_catalog
):
    ds = notion_catalog.playlists_data_source_id
    playlists = [notion_emulator.add_page(ds, {"Name": f"p{i}"}) for i in range(60)]
    parent = {"type": "data_source_id", "data_source_id": notion_catalog.tracks_data_source_id}
    page = client.pages.create(
        parent=parent,
        properties={
            "Title": {"title": [{"type": "text", "text": {"content": "t"}}]},
            "Playlists": {"relation": [{"id": i} for i in playlists]},
        },
    )
    read = client.pages.retrieve(page["id"])["properties"]["Playlists"]
    assert len(read["relation"]) == 25 and read["has_more"] is True
    prop_id = read["id"]
    ids, cursor = [], None
    while True:
        kwargs = {"page_size": 40, **({"start_cursor": cursor} if cursor else {})}
        answer = client.pages.properties.retrieve(page["id"], prop_id, **kwargs)
        ids += [r["relation"]["id"] for r in answer["results"]]
        if not answer["has_more"]:
            break
        cursor = answer["next_cursor"]
    assert ids == playlists
    assert notion_emulator.plain(playlists[7])["Tracks"] == [page["id"]]  # the other side
    client.pages.update(page["id"], properties={"Playlists": {"relation": [{"id": playlists[0]}]}})
    assert notion_emulator.plain(playlists[7])["Tracks"] == []  # an update replaces the list
    assert notion_emulator.plain(playlists[0])["Tracks"] == [page["id"]]


def test_query_filters_sorts_and_cursors(client, notion_emulator, notion_catalog):
    ds = notion_catalog.tracks_data_source_id
    for i in range(130):
        notion_emulator.add_page(
            ds, {"Title": f"Song {i}", "SoundCloud ID": i, "Artist Name": f"A{i % 3}"}
        )
    got, cursor = [], None
    while True:
        body = {
            "filter": {
                "or": [
                    {"property": "SoundCloud ID", "number": {"equals": 5}},
                    {
                        "and": [
                            {"property": "Artist Name", "rich_text": {"equals": "A1"}},
                            {"property": "Title", "title": {"contains": "song 1"}},
                        ]
                    },
                ]
            },
            "sorts": [{"property": "SoundCloud ID", "direction": "ascending"}],
            "page_size": 7,
        }
        if cursor:
            body["start_cursor"] = cursor
        answer = client.data_sources.query(ds, **body)
        got += [r["properties"]["SoundCloud ID"]["number"] for r in answer["results"]]
        if not answer["has_more"]:
            break
        cursor = answer["next_cursor"]
    expected = [5] + [i for i in range(130) if i % 3 == 1 and str(i).startswith("1")]
    assert got == sorted(expected)
    too_deep = {"or": [{"and": [{"or": [{"property": "Title", "title": {"equals": "x"}}]}]}]}
    assert "nest at most two levels" in str(_error(client.data_sources.query, ds, filter=too_deep))
    assert "page_size" in str(_error(client.data_sources.query, ds, page_size=101))
    wrong = {"property": "SoundCloud ID", "rich_text": {"equals": "5"}}
    assert _error(client.data_sources.query, ds, filter=wrong).code == "validation_error"
    recent = client.data_sources.query(
        ds,
        filter={"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": "2020-01-01"}},
        filter_properties=["title"],
    )
    assert len(recent["results"]) == 100 and list(recent["results"][0]["properties"]) == ["Title"]


def test_rate_limit_answers_429_with_integer_retry_after(client, notion_emulator, notion_catalog):
    notion_emulator.set_rate(1, burst=2)
    codes = []
    for _ in range(4):
        try:
            client.data_sources.retrieve(notion_catalog.tracks_data_source_id)
            codes.append(200)
        except APIResponseError as err:
            assert err.code == "rate_limited"
            assert int(err.headers["retry-after"]) >= 1
            codes.append(err.status)
    assert codes[:2] == [200, 200] and 429 in codes[2:]


def test_commit_then_502_really_commits(client, notion_emulator, notion_catalog):
    notion_emulator.script("POST", "/v1/pages", "commit_then_502")
    parent = {"type": "data_source_id", "data_source_id": notion_catalog.tracks_data_source_id}
    with pytest.raises(HTTPResponseError) as caught:
        client.pages.create(parent=parent, properties={})
    assert caught.value.status == 502
    assert notion_emulator.pages_in(notion_catalog.tracks_data_source_id) == (
        notion_emulator.committed_then_failed
    )
    assert notion_emulator.count("POST", "/v1/pages") == 1
