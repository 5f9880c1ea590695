"""PDF text layers with PDFium: one section per page, read one page at a time."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Self

from nimbus.knowledge.loaders.sniff import FileKind
from nimbus.knowledge.loaders.text import clean_text
from nimbus.knowledge.types import NoTextError, ParsedSource, Section, SourceError

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument

# PDFium is not thread-safe: every call into it, for any document, holds this lock.
_PDFIUM_LOCK = threading.RLock()

# PDFium error codes (FPDF_ERR_*) returned when a document fails to load.
_LOAD_ERRORS = {
    2: "The PDF file could not be opened.",
    3: "The file is damaged or truncated.",
    4: "The PDF is password-protected.",
    5: "The PDF is protected by an unsupported security handler.",
}
# PDFium marks a hyphen it found at a line end (and joined the lines after) with U+FFFE.
_GENERATED_HYPHEN = "\ufffe"
# A hyphen ending a line before a lowercase letter or digit: the lines are joined, the hyphen kept,
# because a compound ("third-party") cannot be told from a split word without a dictionary.
_HYPHEN_BREAK = re.compile(r"(?<=\w)-[ \t]*\r?\n[ \t]*(?=[a-z0-9])")
_JUNK_TITLE = re.compile(r"(^microsoft (word|powerpoint) - )|(\.(docx?|pdf|indd|tex|rtf)$)|(^untitled)", re.IGNORECASE)


class PdfPages:
    """Sections of a PDF, one per page with text, read on demand; closes the document when exhausted or closed.

    Pages without text are skipped; if no page had any, the end of iteration raises NoTextError.
    """

    def __init__(self, document: PdfDocument, total_pages: int) -> None:
        self._document: PdfDocument | None = document
        self._total_pages = total_pages
        self._next_index = 0
        self._found_text = False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Section:
        while self._document is not None and self._next_index < self._total_pages:
            index = self._next_index
            self._next_index += 1
            try:
                text = _page_text(self._document, index)
            except SourceError:
                self.close()
                raise
            if text:
                self._found_text = True
                return Section(text=text, page=index + 1)
        if self._document is not None:
            self.close()
            if not self._found_text:
                raise NoTextError("No extractable text was found: the PDF looks scanned (it has no text layer).")
        raise StopIteration

    def close(self) -> None:
        """Release the document (idempotent)."""
        document, self._document = self._document, None
        if document is not None:
            with _PDFIUM_LOCK:
                document.close()


def open_pdf(source: Path | bytes) -> ParsedSource:
    """Open a PDF (a file or its bytes); the sections are read lazily, page by page."""
    import pypdfium2

    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(source)
        except pypdfium2.PdfiumError as exc:
            reason = _LOAD_ERRORS.get(exc.err_code or 0, "The file is damaged or is not a readable PDF.")
            raise SourceError(reason) from exc
        except OSError as exc:
            raise SourceError("The PDF file could not be opened.") from exc
        try:
            total_pages = len(document)
            title = _title(document)
        except pypdfium2.PdfiumError as exc:
            document.close()
            raise SourceError("The file is damaged or truncated.") from exc
    return ParsedSource(
        media_type=FileKind.PDF, sections=PdfPages(document, total_pages), title=title, total_pages=total_pages
    )


def _page_text(document: PdfDocument, index: int) -> str:
    import pypdfium2

    with _PDFIUM_LOCK:
        try:
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                finally:
                    textpage.close()
            finally:
                page.close()
        except pypdfium2.PdfiumError as exc:
            raise SourceError(f"The file is damaged: page {index + 1} cannot be read.") from exc
    return clean_pdf_text(raw)


def clean_pdf_text(raw: str) -> str:
    """Page text with line-end hyphenation joined and white space normalised."""
    text = raw.replace(_GENERATED_HYPHEN, "-").replace("\u00ad", "")
    return clean_text(_HYPHEN_BREAK.sub("-", text))


def _title(document: PdfDocument) -> str | None:
    title = clean_text(document.get_metadata_value("Title"))
    if not title or _JUNK_TITLE.search(title):
        return None
    return title
