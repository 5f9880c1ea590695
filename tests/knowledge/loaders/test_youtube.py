from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from nimbus.config import KnowledgeSettings
from nimbus.knowledge.loaders.youtube import fetch_transcript, parse_video_id
from nimbus.knowledge.types import NoTextError, Section, SourceError
from tests.knowledge.loaders.recorded_youtube import Recorded, recorded_youtube, video_routes

BLOCKED = "YouTube blocked the request from this server; configure NIMBUS_YOUTUBE_PROXY_URL."


def _settings(languages: list[str] | None = None, proxy: str | None = None) -> KnowledgeSettings:
    return KnowledgeSettings(_env_file=None, youtube_languages=languages or ["en"], youtube_proxy_url=proxy)


@pytest.mark.parametrize(
    ("link", "video_id"),
    [
        ("https://www.youtube.com/watch?v=GJLlxj_dtq8", "GJLlxj_dtq8"),
        ("https://www.youtube.com/watch?v=GJLlxj_dtq8&t=42s&list=PL123&si=abc&feature=share", "GJLlxj_dtq8"),
        ("https://www.youtube.com/watch?feature=youtu.be&v=GJLlxj_dtq8", "GJLlxj_dtq8"),
        ("youtube.com/watch?v=GJLlxj_dtq8", "GJLlxj_dtq8"),
        ("http://m.youtube.com/watch?v=GJLlxj_dtq8", "GJLlxj_dtq8"),
        ("https://music.youtube.com/watch?v=GJLlxj_dtq8&list=RDAMVM", "GJLlxj_dtq8"),
        ("https://youtu.be/GJLlxj_dtq8", "GJLlxj_dtq8"),
        ("https://youtu.be/GJLlxj_dtq8?si=Xy12&t=30", "GJLlxj_dtq8"),
        ("https://www.youtube.com/shorts/F1xioXWb8CY", "F1xioXWb8CY"),
        ("https://www.youtube.com/embed/F1xioXWb8CY?start=10", "F1xioXWb8CY"),
        ("https://www.youtube.com/live/F1xioXWb8CY?feature=share", "F1xioXWb8CY"),
        ("https://www.youtube-nocookie.com/embed/F1xioXWb8CY", "F1xioXWb8CY"),
        ("  F1xioXWb8CY  ", "F1xioXWb8CY"),
        ("a-b_c-d_e-f", "a-b_c-d_e-f"),
    ],
)
def test_video_links_and_ids_give_the_video_id(link: str, video_id: str) -> None:
    assert parse_video_id(link) == video_id


@pytest.mark.parametrize(
    "link",
    [
        "",
        "GJLlxj_dtq",  # 10 characters
        "GJLlxj_dtq8x",  # 12 characters
        "https://www.youtube.com/",
        "https://www.youtube.com/watch?list=PL123",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/channel/UCabcdefghijk",
        "https://vimeo.com/watch?v=GJLlxj_dtq8",
        "https://youtube.com.evil.example/watch?v=GJLlxj_dtq8",
        "https://www.youtube.com@evil.example/watch?v=GJLlxj_dtq8",
        "ftp://www.youtube.com/watch?v=GJLlxj_dtq8",
        "https://youtu.be/",
        "https://[::1/watch?v=GJLlxj_dtq8",
    ],
)
def test_anything_else_is_not_a_youtube_link(link: str) -> None:
    with pytest.raises(SourceError, match=r"^not a YouTube link: "):
        parse_video_id(link)


def test_transcript_becomes_timed_sections_with_the_video_title() -> None:
    with recorded_youtube(video_routes("player_GJLlxj_dtq8.json")) as (session, youtube):
        source = fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)
        assert session.hooks["response"] == []  # the title hook is removed again

    assert source.title == "Surface Go Review - It’s Awesome"
    assert source.details == {
        "video_id": "GJLlxj_dtq8",
        "language": "en",
        "language_name": "English",
        "generated": "false",
    }
    assert list(source.sections) == [
        Section(
            text="Hey, this is just a test this is not the original transcript "
            "just something shorter, I made up for testing",
            start_seconds=0.0,
            end_seconds=pytest.approx(8.939),
        ),
        Section(
            text="yeah yeah what this will happen is I'm telling this will happen is I'm telling",
            start_seconds=286.07,
            end_seconds=pytest.approx(305.4),
        ),
    ]
    assert youtube.paths() == [("GET", "/watch"), ("POST", "/youtubei/v1/player"), ("GET", "/api/timedtext")]
    assert json.loads(youtube.requests[1].body or b"{}")["videoId"] == "GJLlxj_dtq8"


def test_the_first_available_preferred_language_is_taken() -> None:
    with recorded_youtube(video_routes("player_GJLlxj_dtq8.json")) as (session, _):
        source = fetch_transcript("GJLlxj_dtq8", _settings(["fr", "de", "en"]), http_client=session)
    assert source.details["language"] == "de"


def test_a_transcript_in_another_language_is_translated_into_the_preferred_one() -> None:
    with recorded_youtube(video_routes("player_F1xioXWb8CY.json")) as (session, youtube):
        source = fetch_transcript("F1xioXWb8CY", _settings(["nl"]), http_client=session)
        caption_query = parse_qs(urlsplit(youtube.requests[-1].url or "").query)
    assert caption_query["tlang"] == ["nl"]
    assert source.details["language"] == "nl"
    assert source.details["translated_from"] == "en"
    assert source.title == "The Tide Is Turning - Russian Civil War Fall 1919 I THE GREAT WAR 1919"
    assert len(list(source.sections)) == 2


def test_a_video_without_captions_has_no_transcript() -> None:
    with (
        recorded_youtube(video_routes("player_transcripts_disabled.json")) as (session, _),
        pytest.raises(SourceError, match=r"^This video has no transcript"),
    ):
        fetch_transcript("Fjg5lYqvzUs", _settings(), http_client=session)


def test_an_unavailable_video_is_reported_as_such() -> None:
    with (
        recorded_youtube(video_routes("player_video_unavailable.json")) as (session, _),
        pytest.raises(SourceError, match=r"^The video is unavailable or private\.$"),
    ):
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)


@pytest.mark.parametrize(
    "routes",
    [
        {"/watch": Recorded(status=429, body=b"Too Many Requests")},
        {"/watch": Recorded("watch_recaptcha.html")},
        video_routes("player_request_blocked.json"),
    ],
    ids=["429", "recaptcha-page", "bot-check"],
)
def test_a_blocked_request_says_to_configure_a_proxy(routes: dict[str, Recorded]) -> None:
    with recorded_youtube(routes) as (session, _), pytest.raises(SourceError) as caught:
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)
    assert caught.value.message == BLOCKED


def test_the_proxy_carries_every_request_and_a_block_through_it_is_named() -> None:
    proxy = "http://user:secret@proxy.internal:3128"
    with recorded_youtube(video_routes("player_request_blocked.json")) as (session, youtube):
        with pytest.raises(SourceError, match=r"even through NIMBUS_YOUTUBE_PROXY_URL"):
            fetch_transcript("GJLlxj_dtq8", _settings(proxy=proxy), http_client=session)
        assert youtube.proxies == [{"http": proxy, "https": proxy}] * 2


def test_network_failures_say_youtube_could_not_be_reached() -> None:
    routes = {"/watch": requests.ConnectionError("connection refused")}
    with recorded_youtube(routes) as (session, _), pytest.raises(SourceError) as caught:
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)
    assert caught.value.message == "Could not reach YouTube: the connection failed"


def test_a_server_error_from_youtube_is_reported_with_its_status() -> None:
    routes = video_routes("player_GJLlxj_dtq8.json") | {"/api/timedtext": Recorded(status=500, body=b"oops")}
    with recorded_youtube(routes) as (session, _), pytest.raises(SourceError) as caught:
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)
    assert caught.value.message == "YouTube answered with an error: 500 Server Error: Internal Server Error"


def test_an_empty_transcript_has_no_text() -> None:
    empty = Recorded(body=b'<?xml version="1.0" encoding="utf-8" ?><transcript></transcript>')
    routes = video_routes("player_GJLlxj_dtq8.json") | {"/api/timedtext": empty}
    with recorded_youtube(routes) as (session, _), pytest.raises(NoTextError):
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)


def test_a_garbled_caption_file_is_reported_not_raised_raw() -> None:
    routes = video_routes("player_GJLlxj_dtq8.json") | {"/api/timedtext": Recorded(body=b"<transcript><text")}
    with recorded_youtube(routes) as (session, _), pytest.raises(SourceError, match=r"could not be understood"):
        fetch_transcript("GJLlxj_dtq8", _settings(), http_client=session)
