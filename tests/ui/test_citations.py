"""How a source is described under an answer: its place in the document, its link, and literal text."""

from __future__ import annotations

import pytest
from ui.api_models import Citation
from ui.components.citations import citation_line, location
from ui.components.documents import is_youtube_link
from ui.components.formatting import escape_markdown, timestamp


def citation(**changes: object) -> Citation:
    fields: dict[str, object] = {
        "document_id": "d1",
        "document_name": "valdoria.pdf",
        "page": None,
        "page_end": None,
        "start_seconds": None,
        "url": None,
        "snippet": "A passage.",
        "char_start": 0,
        "char_end": 10,
        "score": 0.9,
    }
    fields.update(changes)
    return Citation(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"page": 2}, "page 2"),
        ({"page": 2, "page_end": 2}, "page 2"),
        ({"page": 2, "page_end": 4}, "pages 2–4"),
        ({"start_seconds": 65.7}, "at 1:05"),
        ({"start_seconds": 3725.0}, "at 1:02:05"),
        ({}, ""),
    ],
)
def test_location_names_the_page_or_the_moment(changes: dict[str, object], expected: str) -> None:
    assert location(citation(**changes)) == expected


def test_timestamp_pads_seconds_and_adds_hours_only_when_needed() -> None:
    assert [timestamp(s) for s in (0, 9, 60, 599.9, 3600)] == ["0:00", "0:09", "1:00", "9:59", "1:00:00"]


def test_video_citation_links_to_the_moment() -> None:
    video = citation(
        document_name="Tides explained",
        start_seconds=65.0,
        url="https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=65s",
    )
    assert citation_line(1, video) == (
        "**[1] Tides explained** · [at 1:05](https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=65s)"
    )


def test_web_page_citation_links_to_the_page() -> None:
    page = citation(document_name="example.com/tides", url="https://example.com/tides")
    assert citation_line(3, page) == "**[3] example\\.com/tides** · [open the page](https://example.com/tides)"


def test_uploaded_file_citation_shows_the_page_without_a_link_the_browser_could_not_open() -> None:
    pdf = citation(page=2, url="/api/v1/documents/d1/file#page=2")
    assert citation_line(2, pdf) == "**[2] valdoria\\.pdf** · page 2"


def test_markdown_in_names_and_passages_is_shown_literally() -> None:
    assert escape_markdown("*bold* [link](x) $x$ <b>") == "\\*bold\\* \\[link\\]\\(x\\) \\$x\\$ \\<b\\>"


@pytest.mark.parametrize(
    ("link", "youtube"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", True),
        ("https://youtu.be/dQw4w9WgXcQ", True),
        ("m.youtube.com/watch?v=dQw4w9WgXcQ", True),
        ("https://example.com/youtube.com", False),
        ("https://notyoutube.com/watch", False),
    ],
)
def test_youtube_links_are_told_from_web_pages(link: str, youtube: bool) -> None:
    assert is_youtube_link(link) is youtube
