"""The real UI in a real browser: upload PDFs, watch their indexing live, cancel one, and see the cited page
under the answer, with the PDF downloadable through the UI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.ui_process import browser_page, running_ui
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.ui.helpers import LIGHTHOUSE_QUESTION, long_pdf, valdoria_pdf

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

INDEXING_TIMEOUT_MS = 180_000


@pytest.fixture
def page(live_api: LiveServer, tmp_path: Path) -> Iterator[Any]:
    with running_ui(live_api.url, tmp_path) as url, browser_page(url, accept_downloads=True) as opened:
        yield opened


def test_uploaded_pdf_is_indexed_live_and_its_page_is_cited(page: Any, fake_openai: FakeOpenAI) -> None:
    from playwright.sync_api import expect

    valdoria = valdoria_pdf()
    page.goto("/")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("No documents yet.")).to_be_visible()

    # Two files at once, through the uploader's own file input, as a user's file picker would.
    sidebar.locator("input[type=file]").set_input_files(
        [
            {"name": "valdoria.pdf", "mimeType": "application/pdf", "buffer": valdoria},
            {"name": "almanac.pdf", "mimeType": "application/pdf", "buffer": long_pdf()},
        ]
    )

    # The long PDF is still being indexed when the page shows it: a progress bar, updated without any click…
    expect(sidebar.get_by_test_id("stProgress").first).to_be_visible()
    expect(sidebar.get_by_text("Ready · 3 pages")).to_be_visible(timeout=INDEXING_TIMEOUT_MS)
    # …and deleting it mid-way cancels it: its row goes away and the polling ends with no progress bar left.
    rows = sidebar.locator("[class*='st-key-document-']")
    expect(rows).to_have_count(2)
    rows.filter(has_text="almanac.pdf").get_by_role("button").click()
    expect(rows).to_have_count(1, timeout=INDEXING_TIMEOUT_MS)
    expect(rows).to_contain_text("valdoria.pdf")
    expect(sidebar.get_by_test_id("stProgress")).to_have_count(0)

    fake_openai.script(Reply("Ilse Marten kept the diary [1]."))
    page.get_by_test_id("stChatInputTextArea").fill(LIGHTHOUSE_QUESTION)
    page.get_by_test_id("stChatInputTextArea").press("Enter")

    answer = page.get_by_test_id("stChatMessage").last
    expect(answer).to_contain_text("Ilse Marten kept the diary [1].")
    expect(page).to_have_url(re.compile(r"\?chat="))  # the rerun after the answer shows the stored message
    sources = page.get_by_test_id("stChatMessage").last.get_by_test_id("stExpander")
    sources.get_by_text(re.compile(r"Sources \(\d+\)")).click()
    expect(sources).to_contain_text("[1] valdoria.pdf · page 2")
    expect(sources).to_contain_text("The Valdorian lighthouse keeper, Ilse Marten, kept a diary of every storm.")

    with page.expect_download() as download:
        sources.get_by_role("button", name="Download valdoria.pdf").click()
    assert download.value.suggested_filename == "valdoria.pdf"
    assert Path(download.value.path()).read_bytes() == valdoria
