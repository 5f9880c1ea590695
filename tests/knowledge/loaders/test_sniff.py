from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from nimbus.knowledge.loaders.files import open_file
from nimbus.knowledge.loaders.sniff import FileKind, sniff_bytes
from nimbus.knowledge.types import SourceError


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", FileKind.PDF),
        (b"\xef\xbb\xbf  %PDF-1.4\n", FileKind.PDF),
        (b"\x00\x01junk\xff\xfe\x00" * 10 + b"%PDF-1.4\n\x80\x81\x82\x00", FileKind.PDF),
        (_zip("[Content_Types].xml", "word/document.xml"), FileKind.DOCX),
        (b"<!DOCTYPE html><html><body><p>x</p></body></html>", FileKind.HTML),
        (b"\xef\xbb\xbf\n  <!doctype HTML>\n<title>x</title>", FileKind.HTML),
        (b"<html lang='en'><p>x</p></html>", FileKind.HTML),
        (b"<!-- saved page --><div>Hello</div>", FileKind.HTML),
        (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', FileKind.HTML),
        ("<p>café</p>".encode("utf-16"), FileKind.HTML),
        (b"# Title\n\nSome *text* with a [link](https://example.org).\n", FileKind.MARKDOWN),
        (b"Intro\n=====\n\n- one\n- two\n", FileKind.MARKDOWN),
        (b"Dear team,\n\nthe meeting moves to Friday.\n", FileKind.TEXT),
        (b"Notes about the %PDF- header, which files start with.\n", FileKind.TEXT),
        (b"<notes> are angle brackets, not markup\n", FileKind.TEXT),
    ],
)
def test_the_kind_is_judged_by_content(data: bytes, kind: FileKind) -> None:
    assert sniff_bytes(data, filename="upload.bin") is kind


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        (b"GIF89a\x01\x00", "GIF image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP image"),
        (b"\x00\x00\x00\x18ftypmp42", "MP4/QuickTime media"),
        (b"\x1f\x8b\x08\x00", "gzip archive"),
        (b"\x7fELF\x02\x01\x01\x00", "executable program"),
        (b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00", "executable program"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "legacy or password-protected Office document"),
        (_zip("notes.txt", "photo.jpg"), "ZIP archive"),
        (_zip("[Content_Types].xml", "xl/workbook.xml"), "Excel workbook"),
        (bytes(range(256)) * 8, "binary data"),
    ],
)
def test_binary_files_are_unsupported_and_named(tmp_path: Path, data: bytes, what: str) -> None:
    path = tmp_path / "upload.pdf"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=f"^unsupported file type: {re.escape(what)}") as caught:
        open_file(path, "upload.pdf")
    assert type(caught.value) is SourceError
