"""What a file is, judged by its content: magic bytes, ZIP members, HTML markers and text encodings."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from enum import StrEnum
from pathlib import Path

from nimbus.knowledge.types import SourceError

SAMPLE_BYTES = 64 * 1024
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")


class FileKind(StrEnum):
    """The formats Nimbus reads, named by their media type."""

    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    MARKDOWN = "text/markdown"
    TEXT = "text/plain"


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "executable program"),
    (b"\xcf\xfa\xed\xfe", "executable program"),
    (b"\xce\xfa\xed\xfe", "executable program"),
    (b"\xca\xfe\xba\xbe", "executable program"),
    (b"\x00asm", "WebAssembly module"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy or password-protected Office document (save it as .docx or PDF)"),
    (b"{\\rtf", "RTF document"),
    (b"%!PS", "PostScript document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"),
)
_RIFF_KINDS = {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# The WHATWG MIME sniffing patterns that mark HTML (each followed by a space or `>`).
_HTML_START = re.compile(
    rb"<(!doctype html|html|head|body|script|iframe|h1|div|font|table|a|style|title|b|br|p|!--)[ \t\n\f\r>]",
    re.IGNORECASE,
)
_XML_DECLARATION = re.compile(rb"<\?xml[^>]*\?>", re.IGNORECASE)
_MARKDOWN_FEATURES = (
    re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE),  # ATX heading
    re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE),  # fenced code
    re.compile(r"!?\[[^\]\n]{1,300}\]\([^)\s]{1,2000}\)"),  # link or image
    re.compile(r"^ {0,3}\S[^\n]{0,300}\n {0,3}(=+|-{2,})[ \t]*$", re.MULTILINE),  # setext heading
    re.compile(r"^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*\|", re.MULTILINE),  # table separator row
    re.compile(r"^ {0,3}([-*+]|\d{1,3}[.)])[ \t]+\S", re.MULTILINE),  # list item
    re.compile(r"(\*\*|__)\S[^\n]{0,300}?\S\1"),  # strong emphasis
    re.compile(r"`[^`\n]{1,300}`"),  # inline code
    re.compile(r"^ {0,3}>[ \t]", re.MULTILINE),  # block quote
)
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")


def unsupported(what: str) -> SourceError:
    """The error for a file Nimbus cannot read."""
    return SourceError(f"unsupported file type: {what}")


def sniff_file(path: Path, filename: str | None = None) -> FileKind:
    """The kind of the file at `path` from its content; the name only tells Markdown from plain text."""
    try:
        with path.open("rb") as file:
            head = file.read(SAMPLE_BYTES)
    except OSError as exc:
        raise SourceError("The file could not be read.") from exc
    return sniff(head, path, filename)


def sniff_bytes(data: bytes, filename: str | None = None) -> FileKind:
    """The kind of an in-memory file from its content (see `sniff_file`)."""
    return sniff(data[:SAMPLE_BYTES], data, filename)


def sniff(head: bytes, source: Path | bytes, filename: str | None) -> FileKind:
    """The kind of a file from its first bytes (`head`); `source`, the whole file, is opened only if it is a ZIP."""
    binary = _binary_kind(head)
    if binary is not None:
        raise unsupported(binary)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):
        return FileKind.PDF
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(source)
    encoding = detect_encoding(head)
    if encoding is None:
        if b"%PDF-" in head[:1024]:  # readers accept a PDF header after up to 1 KB of leading junk
            return FileKind.PDF
        raise unsupported("binary data")
    text = head.decode(encoding, errors="replace")
    if looks_like_html(text):
        return FileKind.HTML
    if looks_like_markdown(text) or (filename or "").lower().endswith(MARKDOWN_SUFFIXES):
        return FileKind.MARKDOWN
    return FileKind.TEXT


def _binary_kind(head: bytes) -> str | None:
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp":
        return "MP4/QuickTime media"
    if head.startswith(b"MZ") and b"PE\x00\x00" in head[:1024]:
        return "executable program"
    return None


def _zip_kind(source: Path | bytes) -> FileKind:
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise SourceError("The file is damaged or truncated (a ZIP archive that cannot be opened).") from exc
    if "word/document.xml" in names:
        return FileKind.DOCX
    if "xl/workbook.xml" in names:
        raise unsupported("Excel workbook")
    if "ppt/presentation.xml" in names:
        raise unsupported("PowerPoint presentation")
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise unsupported("OpenDocument file (save it as .docx or PDF)")
    if mimetype.startswith(b"application/epub"):
        raise unsupported("EPUB book")
    raise unsupported("ZIP archive")


def detect_encoding(sample: bytes) -> str | None:
    """The text encoding of `sample` (BOM, UTF-8, UTF-16 by its zero bytes, else Windows-1252), or None if binary."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if sample.startswith(bom):
            return name if _is_text(sample, name) else None
    utf16 = _bomless_utf16(sample) if b"\x00" in sample else None
    if utf16 is not None and _is_text(sample, utf16):
        return utf16
    for name in ("utf-8", "cp1252", "latin-1"):  # a few stray NULs or controls are tolerated (and dropped later)
        if _is_text(sample, name):
            return name
    return None


def _bomless_utf16(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if not odd:
        return None
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd > 0.4 and zero_even < 0.05:
        return "utf-16-le"
    if zero_even > 0.4 and zero_odd < 0.05:
        return "utf-16-be"
    return None


def _is_text(sample: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(sample, final=False)  # a sample may end inside a character
    except UnicodeDecodeError:
        return False
    if not text:
        return True
    controls = sum(1 for char in text if char not in _TEXT_CONTROLS and unicodedata.category(char) == "Cc")
    return controls / len(text) < 0.01


def looks_like_html(text: str) -> bool:
    """Whether decoded text starts like an HTML document (after a BOM, white space and an XML declaration)."""
    head = text.lstrip("\ufeff \t\n\r\f")[:1024].encode("utf-8", errors="replace")
    declaration = _XML_DECLARATION.match(head)
    if declaration is not None:
        rest = head[declaration.end() :].lstrip()
        return rest.lower().startswith((b"<!doctype html", b"<html")) or b"http://www.w3.org/1999/xhtml" in head
    return _HTML_START.match(head) is not None


def looks_like_markdown(text: str) -> bool:
    """Whether text shows at least two kinds of Markdown syntax (or several ATX headings)."""
    features = sum(1 for pattern in _MARKDOWN_FEATURES if pattern.search(text))
    headings = len(_MARKDOWN_FEATURES[0].findall(text))
    return features >= 2 or headings >= 2
