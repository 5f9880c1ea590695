from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE

from nimbus.knowledge.loaders.files import open_file
from nimbus.knowledge.types import NoTextError, Section, SourceError


def _report(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Quarterly report", style="Title")
    document.add_heading("Intro", level=1)
    document.add_paragraph("This report covers the third quarter.")
    document.add_heading("Scope", level=2)
    document.add_paragraph("Only the northern region is included.")
    table = document.add_table(rows=3, cols=2)
    for row, (name, value) in zip(table.rows, [("Name", "Value"), ("alpha", "1"), ("total", "")], strict=True):
        row.cells[0].text, row.cells[1].text = name, value
    table.cell(2, 0).merge(table.cell(2, 1))
    document.add_heading("Results", level=1)
    custom = document.styles.add_style("Report Subheading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    document.add_paragraph("Details", style="Report Subheading")
    document.add_paragraph("Sales rose by   four\tper cent.")
    document.save(str(path))
    return path


def test_headings_give_heading_paths_and_tables_become_text_rows(tmp_path: Path) -> None:
    source = open_file(_report(tmp_path / "report.docx"), "report.docx")
    assert source.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert source.title == "Quarterly report"
    assert list(source.sections) == [
        Section(text="Quarterly report"),
        Section(text="Intro\n\nThis report covers the third quarter.", heading_path="Intro"),
        Section(
            text="Scope\n\nOnly the northern region is included.\n\nName | Value\nalpha | 1\ntotal",
            heading_path="Intro > Scope",
        ),
        Section(text="Results", heading_path="Results"),
        Section(text="Details\n\nSales rose by four per cent.", heading_path="Results > Details"),
    ]


def test_the_core_title_is_preferred_and_the_file_name_is_the_fallback(tmp_path: Path) -> None:
    titled = docx.Document()
    titled.core_properties.title = "Annual plan"
    titled.add_paragraph("Body text.")
    titled.save(str(tmp_path / "titled.docx"))
    untitled = docx.Document()
    untitled.add_paragraph("Body text.")
    untitled.save(str(tmp_path / "untitled.docx"))
    assert open_file(tmp_path / "titled.docx", "titled.docx").title == "Annual plan"
    assert open_file(tmp_path / "untitled.docx", "minutes 2024.docx").title == "minutes 2024"


def test_a_document_without_text_has_no_text(tmp_path: Path) -> None:
    empty = tmp_path / "empty.docx"
    docx.Document().save(str(empty))
    with pytest.raises(NoTextError):
        list(open_file(empty, "empty.docx").sections)


def test_a_truncated_docx_is_reported_as_damaged(tmp_path: Path) -> None:
    data = _report(tmp_path / "report.docx").read_bytes()
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"^The file is damaged or truncated"):
        open_file(truncated, "truncated.docx")


def test_a_package_with_a_broken_document_part_is_reported_as_damaged(tmp_path: Path) -> None:
    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document")
    with pytest.raises(SourceError) as caught:
        open_file(broken, "broken.docx")
    assert caught.value.message == "The Word document is damaged or truncated, or is not a valid .docx file."
