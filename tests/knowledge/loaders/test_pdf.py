from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdf
import pytest

from nimbus.knowledge.loaders.files import open_file
from nimbus.knowledge.loaders.pdf import PdfPages, clean_pdf_text
from nimbus.knowledge.types import NoTextError, SourceError

PDFS = Path(__file__).resolve().parents[2] / "fixtures" / "pdf"
ONE_PAGE = PDFS / "nics-background-checks-2015-11.pdf"
EIGHTEEN_PAGES = PDFS / "dmca.pdf"
SCANNED = PDFS / "c02-22.pdf"


def _open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors point at `path` (Linux)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_a_one_page_pdf_gives_one_section_for_page_one() -> None:
    source = open_file(ONE_PAGE, "nics.pdf")
    sections = list(source.sections)
    assert source.media_type == "application/pdf"
    assert source.total_pages == 1
    assert [section.page for section in sections] == [1]
    assert "Alabama" in sections[0].text
    assert "\r" not in sections[0].text


def test_every_page_is_a_section_in_order_with_the_document_title() -> None:
    source = open_file(EIGHTEEN_PAGES, "dmca.pdf")
    sections = list(source.sections)
    assert source.title == "The Digital Millennium Copyright Act of 1998"
    assert source.total_pages == 18
    assert [section.page for section in sections] == list(range(1, 19))
    assert sections[0].text.startswith("Pub. L. No. 105-304")


def test_pages_are_read_on_demand_and_the_document_is_closed_when_done(tmp_path: Path) -> None:
    pdf = shutil.copy(EIGHTEEN_PAGES, tmp_path / "dmca.pdf")
    source = open_file(pdf)
    first = next(source.sections)
    assert first.page == 1
    assert _open_descriptors(pdf) == 1  # held open while pages remain
    assert len(list(source.sections)) == 17
    assert _open_descriptors(pdf) == 0


def test_closing_the_sections_early_closes_the_document(tmp_path: Path) -> None:
    pdf = shutil.copy(EIGHTEEN_PAGES, tmp_path / "dmca.pdf")
    source = open_file(pdf)
    assert isinstance(source.sections, PdfPages)
    next(source.sections)
    source.sections.close()
    assert _open_descriptors(pdf) == 0
    assert list(source.sections) == []


def test_a_scanned_pdf_opens_but_has_no_text() -> None:
    source = open_file(SCANNED, "scan.pdf")
    assert source.total_pages == 1
    with pytest.raises(NoTextError, match=r"no text layer"):
        list(source.sections)


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=ONE_PAGE)
    writer.encrypt(user_password="secret", owner_password="owner")
    protected = tmp_path / "protected.pdf"
    with protected.open("wb") as file:
        writer.write(file)
    with pytest.raises(SourceError) as caught:
        open_file(protected, "protected.pdf")
    assert caught.value.message == "The PDF is password-protected."


def test_a_truncated_pdf_is_reported_as_damaged(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(EIGHTEEN_PAGES.read_bytes()[:30_000])
    with pytest.raises(SourceError) as caught:
        open_file(truncated, "truncated.pdf")
    assert caught.value.message == "The file is damaged or truncated."


def test_the_content_decides_not_the_name(tmp_path: Path) -> None:
    disguised = shutil.copy(ONE_PAGE, tmp_path / "notes.txt")
    assert open_file(disguised, "notes.txt").media_type == "application/pdf"


def test_pdfs_parse_correctly_from_many_threads_at_once() -> None:
    def texts() -> list[str]:
        return [section.text for section in open_file(EIGHTEEN_PAGES).sections]

    expected = texts()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: texts(), range(8)))
    assert all(result == expected for result in results)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("non\ufffenormal procedure", "non-normal procedure"),
        ("the infor-\r\nmation system", "the infor-mation system"),
        ("SP 800-\r\n53 controls", "SP 800-53 controls"),
        ("Chapter One -\r\nIntroduction", "Chapter One -\nIntroduction"),
        ("a\x00b  c\t\td \r\nnext line", "ab c d\nnext line"),
        ("para one\r\n\r\n\r\n\r\npara two", "para one\n\npara two"),
        ("soft\u00adhyphen", "softhyphen"),
    ],
)
def test_page_text_is_normalised(raw: str, clean: str) -> None:
    assert clean_pdf_text(raw) == clean
