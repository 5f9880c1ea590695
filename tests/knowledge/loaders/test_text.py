from __future__ import annotations

from pathlib import Path

import pytest

from nimbus.knowledge.loaders.files import open_file
from nimbus.knowledge.loaders.text import LINE_CHARS, SECTION_CHARS, Heading, Paragraph, group_sections
from nimbus.knowledge.types import NoTextError, Section

GUIDE = """\
# Guide

Welcome to the guide.

## Install

Run the installer:

```sh
# not a heading
make install

make check
```

### Linux ###

Use the package.

Configuration
-------------

Set **two** values, see [the docs](https://example.org/docs).

# Appendix

Last words.
"""


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_markdown_headings_give_heading_paths(tmp_path: Path) -> None:
    source = open_file(_write(tmp_path, "guide.txt", GUIDE.encode()), "guide.txt")
    sections = list(source.sections)
    assert source.media_type == "text/markdown"
    assert source.title == "Guide"
    assert [(section.heading_path, section.text.split("\n\n")[0]) for section in sections] == [
        ("Guide", "Guide"),
        ("Guide > Install", "Install"),
        ("Guide > Install > Linux", "Linux"),
        ("Guide > Configuration", "Configuration"),
        ("Appendix", "Appendix"),
    ]
    assert "```sh\n# not a heading\nmake install\n\nmake check\n```" in sections[1].text


def test_a_markdown_name_breaks_the_tie_for_text_with_little_markup(tmp_path: Path) -> None:
    data = b"# Notes\n\nJust a line of text.\n"
    assert open_file(_write(tmp_path, "a.md", data), "notes.md").media_type == "text/markdown"
    assert open_file(_write(tmp_path, "a.txt", data), "notes.txt").media_type == "text/plain"


def test_plain_text_keeps_paragraph_breaks_and_normalises_white_space(tmp_path: Path) -> None:
    filler = b"More words to read. " * 10
    data = b"First   line\r\nsecond\tline  \r\n\r\n\r\n\r\nA stray\x00 NUL. " + filler + b"\r\n"
    source = open_file(_write(tmp_path, "notes.txt", data), "notes.txt")
    assert source.media_type == "text/plain"
    assert source.title == "notes"
    expected = "First line\nsecond line\n\nA stray NUL. " + filler.decode().strip()
    assert list(source.sections) == [Section(text=expected)]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Ünïcödé text, naïve café.\n".encode("utf-8-sig"), "utf-8 with BOM"),
        ("Ünïcödé text, naïve café.\n".encode("utf-16"), "utf-16 with BOM"),
        ("Ünïcödé text, naïve café.\n".encode("utf-16-le"), "utf-16-le without BOM"),
        ("Ünïcödé text, naïve café.\n".encode("cp1252"), "windows-1252"),
    ],
)
def test_text_encodings_are_recognised(tmp_path: Path, data: bytes, encoding: str) -> None:
    source = open_file(_write(tmp_path, "text", data))
    assert [section.text for section in source.sections] == ["Ünïcödé text, naïve café."], encoding


def test_long_text_is_cut_into_bounded_sections_at_paragraph_breaks(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {index} " + "word " * 150 for index in range(100)]
    source = open_file(_write(tmp_path, "long.txt", "\n\n".join(paragraphs).encode()))
    sections = list(source.sections)
    assert len(sections) > 5
    assert all(len(section.text) <= SECTION_CHARS + 800 for section in sections)
    assert "\n\n".join(section.text for section in sections) == "\n\n".join(p.strip() for p in paragraphs)


def test_a_file_without_line_breaks_is_read_in_pieces(tmp_path: Path) -> None:
    source = open_file(_write(tmp_path, "one-line.txt", b"x" * (3 * LINE_CHARS)))
    sections = list(source.sections)
    assert sum(len(section.text) for section in sections) == 3 * LINE_CHARS
    assert max(len(section.text) for section in sections) <= LINE_CHARS


def test_an_empty_file_and_a_blank_file_have_no_text(tmp_path: Path) -> None:
    with pytest.raises(NoTextError, match=r"^The file is empty\.$"):
        open_file(_write(tmp_path, "empty.txt", b""))
    blank = open_file(_write(tmp_path, "blank.txt", b" \n\t\n\r\n"))
    with pytest.raises(NoTextError):
        list(blank.sections)


def test_a_deeper_heading_nests_and_a_shallower_one_pops_the_path() -> None:
    blocks = [Heading(1, "A"), Heading(3, "A.x"), Paragraph("one"), Heading(2, "B"), Paragraph("two")]
    assert [section.heading_path for section in group_sections(blocks)] == ["A", "A > A.x", "A > B"]
