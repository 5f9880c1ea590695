"""Open an uploaded file with the loader its content calls for."""

from __future__ import annotations

from pathlib import Path, PurePath

from nimbus.knowledge.loaders.docx import open_docx
from nimbus.knowledge.loaders.html import open_html
from nimbus.knowledge.loaders.pdf import open_pdf
from nimbus.knowledge.loaders.sniff import SAMPLE_BYTES, FileKind, detect_encoding, sniff
from nimbus.knowledge.loaders.text import markdown_title, open_text
from nimbus.knowledge.types import NoTextError, ParsedSource, SourceError


def open_file(path: Path, filename: str | None = None) -> ParsedSource:
    """Parse a PDF, DOCX, HTML, Markdown or text file, recognised by its content (`filename` only breaks the
    Markdown/plain-text tie and is the fallback title). Raises SourceError (unsupported, damaged, protected) or
    NoTextError; the sections may raise them too, and NoTextError at their end if no text was found.
    """
    try:
        with path.open("rb") as file:
            head = file.read(SAMPLE_BYTES)
    except OSError as exc:
        raise SourceError("The file could not be read.") from exc
    if not head:
        raise NoTextError("The file is empty.")
    name = filename or path.name
    fallback_title = _stem(name)
    kind = sniff(head, path, name)
    if kind is FileKind.PDF:
        source = open_pdf(path)
        source.title = source.title or fallback_title
        return source
    if kind is FileKind.DOCX:
        return open_docx(path, fallback_title=fallback_title)
    if kind is FileKind.HTML:
        return open_html(path, fallback_title=fallback_title)
    encoding = detect_encoding(head) or "utf-8"
    markdown = kind is FileKind.MARKDOWN
    title = markdown_title(head.decode(encoding, errors="replace")) if markdown else None
    return open_text(path, encoding=encoding, markdown=markdown, title=title or fallback_title)


def _stem(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name
    stem = PurePath(name).stem
    return stem or name
