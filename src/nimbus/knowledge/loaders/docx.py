"""Word documents (.docx): paragraphs in order, Heading styles as heading paths, tables as text rows."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nimbus.knowledge.loaders.sniff import FileKind
from nimbus.knowledge.loaders.text import Block, Heading, Paragraph, clean_text, group_sections, require_text
from nimbus.knowledge.types import ParsedSource, SourceError

if TYPE_CHECKING:
    from docx.document import Document
    from docx.styles.style import ParagraphStyle
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)
_UNREADABLE = "The Word document is damaged or truncated, or is not a valid .docx file."


def open_docx(source: Path | bytes, fallback_title: str | None = None) -> ParsedSource:
    """A .docx file (or its bytes); its XML is parsed at once, the sections are built lazily."""
    import docx

    try:
        document = docx.Document(io.BytesIO(source) if isinstance(source, bytes) else str(source))
        title = clean_text(document.core_properties.title or "") or _title_paragraph(document)
    except Exception as exc:  # python-docx raises many types (KeyError, ValueError, lxml, zipfile) on a bad package
        raise SourceError(_UNREADABLE) from exc
    return ParsedSource(
        media_type=FileKind.DOCX,
        sections=require_text(group_sections(_guarded(_blocks(document)))),
        title=title or fallback_title,
    )


def _guarded(blocks: Iterator[Block]) -> Iterator[Block]:
    try:
        yield from blocks
    except Exception as exc:  # malformed content met while walking the tree
        raise SourceError(_UNREADABLE) from exc


def _blocks(document: Document) -> Iterator[Block]:
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            yield Paragraph("\n".join(_table_rows(item)))
            continue
        text = clean_text(item.text)
        level = _heading_level(item)
        if text and level is not None:
            yield Heading(level, text.replace("\n", " "))
        elif text:
            yield Paragraph(text)


def _heading_level(paragraph: DocxParagraph) -> int | None:
    style: ParagraphStyle | None = paragraph.style
    for _ in range(8):  # a custom style based on "Heading N" is a heading too
        if style is None:
            return None
        match = _HEADING_STYLE.match(style.name or "")
        if match is not None:
            return int(match.group(1))
        style = style.base_style
    return None


def _table_rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is repeated once per grid column it spans
                continue
            previous = cell._tc
            cells.append(clean_text(cell.text).replace("\n", " "))
        line = " | ".join(cells)
        if line.strip(" |"):
            yield line


def _title_paragraph(document: Document) -> str | None:
    for paragraph in document.paragraphs[:20]:
        if paragraph.style is not None and (paragraph.style.name or "").lower() == "title":
            return clean_text(paragraph.text) or None
    return None
