"""Plain text and Markdown, read line by line; the heading-path sectioning shared by the structured formats."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nimbus.knowledge.loaders.sniff import FileKind
from nimbus.knowledge.types import NoTextError, ParsedSource, Section, SourceError

SECTION_CHARS = 8000  # a long heading block is cut into sections of about this size, at paragraph breaks
PARAGRAPH_CHARS = 16_000  # a paragraph without blank lines is cut at a line break past this size
HEADING_CHARS = 500  # a longer line is never taken for a heading
LINE_CHARS = 64 * 1024  # a longer line is read in pieces, so a file without line breaks never fills memory

_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])[ \t]")


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading of the given depth (1 = top)."""

    level: int
    title: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A run of body text: a paragraph, list item, code block or table."""

    text: str


Block = Heading | Paragraph


def clean_text(text: str, *, keep_indent: bool = False) -> str:
    """Drop NULs and control characters, unify line breaks, squeeze spaces, keep paragraph breaks as blank lines."""
    text = _CONTROLS.sub("", _BREAKS.sub("\n", text))
    if keep_indent:
        lines = [line.rstrip().replace("\t", "    ") for line in text.split("\n")]
    else:
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")


def group_sections(blocks: Iterable[Block], max_chars: int = SECTION_CHARS) -> Iterator[Section]:
    """Sections of paragraphs under their heading path ("Intro > Scope"); a heading opens a new section."""
    path: list[Heading] = []
    parts: list[str] = []
    size = 0

    def flush() -> Section:
        heading_path = " > ".join(heading.title for heading in path) or None
        return Section(text="\n\n".join(parts), heading_path=heading_path)

    for block in blocks:
        if isinstance(block, Heading):
            if parts:
                yield flush()
            while path and path[-1].level >= block.level:
                path.pop()
            path.append(block)
            parts, size = [block.title], len(block.title)
            continue
        if not block.text:
            continue
        if parts and size + len(block.text) > max_chars:
            yield flush()
            parts, size = [], 0
        parts.append(block.text)
        size += len(block.text) + 2
    if parts:
        yield flush()


def require_text(sections: Iterator[Section], message: str | None = None) -> Iterator[Section]:
    """Pass sections with text through; raise NoTextError at the end if there was none."""
    found = False
    try:
        for section in sections:
            if section.text.strip():
                found = True
                yield section
    finally:
        close = getattr(sections, "close", None)
        if close is not None:
            close()
    if not found:
        raise NoTextError(message)


def markdown_blocks(lines: Iterable[str]) -> Iterator[Block]:
    """Headings (ATX `#` and setext underlines) and paragraphs of Markdown; fenced code stays one block."""
    paragraph: list[str] = []
    size = 0
    fence: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if fence is not None:
            paragraph.append(line)
            size += len(line) + 1
            if line.strip().startswith(fence):
                fence = None
            if fence is None or size > PARAGRAPH_CHARS:
                yield from _paragraph(paragraph, keep_indent=True)
                paragraph, size = [], 0
            continue
        short = len(line) <= HEADING_CHARS  # longer lines are never headings (and regexes stay linear)
        opening = _FENCE.match(line)
        heading = _ATX.match(line) if short and not opening else None
        underline = _SETEXT.match(line) if short and len(paragraph) == 1 else None
        if opening is not None:
            yield from _paragraph(paragraph, keep_indent=True)
            paragraph, size, fence = [line], len(line), opening.group(1)
        elif heading is not None:
            yield from _paragraph(paragraph, keep_indent=True)
            paragraph, size = [], 0
            title = clean_text(heading.group(2) or "")
            if title:
                yield Heading(len(heading.group(1)), title)
        elif underline is not None and not _LIST_ITEM.match(paragraph[0]):
            title = clean_text(paragraph[0])
            paragraph, size = [], 0
            yield Heading(1 if underline.group(1).startswith("=") else 2, title)
        elif not line.strip() or (short and not paragraph and _RULE.match(line)):
            yield from _paragraph(paragraph, keep_indent=True)
            paragraph, size = [], 0
        else:
            paragraph.append(line)
            size += len(line) + 1
            if size > PARAGRAPH_CHARS:
                yield from _paragraph(paragraph, keep_indent=True)
                paragraph, size = [], 0
    yield from _paragraph(paragraph, keep_indent=True)


def plain_blocks(lines: Iterable[str]) -> Iterator[Block]:
    """Paragraphs of plain text, separated by blank lines."""
    paragraph: list[str] = []
    size = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.strip():
            paragraph.append(line)
            size += len(line) + 1
            if size <= PARAGRAPH_CHARS:
                continue
        yield from _paragraph(paragraph, keep_indent=False)
        paragraph, size = [], 0
    yield from _paragraph(paragraph, keep_indent=False)


def _paragraph(lines: list[str], *, keep_indent: bool) -> Iterator[Paragraph]:
    text = clean_text("\n".join(lines), keep_indent=keep_indent)
    if text:
        yield Paragraph(text)


def markdown_title(text: str) -> str | None:
    """The first top-level heading of Markdown text, if any."""
    for block in markdown_blocks(text.splitlines()):
        if isinstance(block, Heading) and block.level == 1:
            return block.title
    return None


def open_text(path: Path, *, encoding: str, markdown: bool, title: str | None = None) -> ParsedSource:
    """A text or Markdown file in `encoding`, read lazily; sections follow the Markdown headings."""

    def lines() -> Iterator[str]:
        # Bytes that do not decode (past the sniffed sample) become U+FFFD rather than failing the whole file.
        try:
            with path.open(encoding=encoding, errors="replace", newline=None) as file:
                yield from iter(lambda: file.readline(LINE_CHARS), "")
        except OSError as exc:
            raise SourceError("The file could not be read.") from exc

    blocks = markdown_blocks(lines()) if markdown else plain_blocks(lines())
    kind = FileKind.MARKDOWN if markdown else FileKind.TEXT
    return ParsedSource(media_type=kind, sections=require_text(group_sections(blocks)), title=title)


def parse_text(text: str, *, markdown: bool, title: str | None = None) -> ParsedSource:
    """Text or Markdown already in memory (a web page served as text/plain or text/markdown)."""
    lines = text.splitlines()
    blocks = markdown_blocks(lines) if markdown else plain_blocks(lines)
    if markdown and title is None:
        title = markdown_title(text)
    kind = FileKind.MARKDOWN if markdown else FileKind.TEXT
    return ParsedSource(media_type=kind, sections=require_text(group_sections(blocks)), title=title)
