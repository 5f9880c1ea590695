from __future__ import annotations

from pathlib import Path

import pytest

from nimbus.knowledge.loaders.files import open_file
from nimbus.knowledge.loaders.html import decode_html, parse_html
from nimbus.knowledge.types import NoTextError

DOCUMENT = """<!DOCTYPE html>
<html><head><title>Handbook</title><style>p { color: red }</style></head>
<body>
<header><a href="/">Company</a> <a href="/jobs">Jobs</a></header>
<h1>Handbook</h1>
<p>Everything a new colleague needs to know in the first weeks, written down in one place.</p>
<h2>Holidays</h2>
<p>Book holidays at least two weeks in advance through the&nbsp;planning tool.</p>
<script>console.log("never shown")</script>
<h2>Equipment</h2>
<ul><li>A laptop of your choice</li><li>A second screen</li></ul>
<table><tr><th>Item</th><th>Budget</th></tr><tr><td>Chair</td><td>400 &euro;</td></tr></table>
<div hidden>internal note</div>
<footer>Last updated by the office team</footer>
</body></html>"""


def test_an_html_file_gives_its_title_and_sections_under_its_headings(tmp_path: Path) -> None:
    path = tmp_path / "handbook.html"
    path.write_text(DOCUMENT, encoding="utf-8")
    source = open_file(path, "handbook.html")
    sections = list(source.sections)
    text = "\n\n".join(section.text for section in sections)
    assert source.media_type == "text/html"
    assert source.title == "Handbook"
    assert [section.heading_path for section in sections] == ["Handbook", "Handbook > Holidays", "Handbook > Equipment"]
    assert "through the planning tool." in sections[1].text
    assert "- A laptop of your choice\n- A second screen" in sections[2].text
    assert "Chair | 400 €" in sections[2].text
    for hidden in ("never shown", "color: red", "internal note", "Jobs"):
        assert hidden not in text


def test_a_small_page_keeps_its_heading_structure() -> None:
    source = parse_html("<html><body><h1>Title</h1><p>Short body.</p></body></html>")
    assert next(source.sections).heading_path == "Title"


def test_the_declared_or_meta_charset_decodes_the_bytes() -> None:
    latin = '<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9</p></body></html>'.encode("cp1252")
    assert "Café" in decode_html(latin)
    assert "Café" in decode_html("<p>Café</p>".encode("utf-16"))
    assert "Café" in decode_html("<p>Café</p>".encode("iso-8859-1"), declared_charset="iso-8859-1")
    assert "Café" in decode_html(b"<p>Caf\xe9</p>", declared_charset="utf-8")  # a wrong label falls back


def test_a_deeply_nested_page_is_still_read() -> None:
    markup = "<html><body>" + "<div>" * 5000 + "<p>deep text</p>" + "</div>" * 5000 + "</body></html>"
    assert [section.text for section in parse_html(markup).sections] == ["deep text"]


def test_a_page_with_only_scripts_has_no_text() -> None:
    source = parse_html("<html><head><script>var a = 1;</script></head><body><nav>Home</nav></body></html>")
    with pytest.raises(NoTextError):
        list(source.sections)
