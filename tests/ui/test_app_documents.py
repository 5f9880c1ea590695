"""The documents panel and the sources under answers, run by AppTest against the real Nimbus API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any, cast

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import DownloadButton, Progress
from ui.api_client import NimbusClient
from ui.api_errors import NotFoundError
from ui.api_models import Document

from tests.conftest import LiveServer
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.ui.conftest import APP_PATH, SMALL_UPLOAD_MB
from tests.ui.helpers import LIGHTHOUSE_QUESTION, long_pdf, texts, valdoria_pdf, wait_until_indexed

NOTES = b"# Bread\n\nMix flour, water, salt and yeast; bake at 230 degrees for forty minutes.\n"


def document_picker(app: AppTest) -> Any:
    (picker,) = [m for m in app.sidebar.multiselect if str(m.key).startswith("chat-documents-")]
    return picker


def progress_bars(app: AppTest) -> list[Progress]:
    return [cast(Progress, bar) for bar in app.sidebar.get("progress")]


def add_link_button(app: AppTest) -> Any:
    (button,) = [b for b in app.sidebar.button if b.label == "Add link"]
    return button


@pytest.fixture
def indexing(api: NimbusClient) -> Iterator[Document]:
    """A long PDF still being indexed; cancelled afterwards so it does not hold up the worker."""
    document = api.upload_document("almanac.pdf", long_pdf())
    yield document
    with suppress(NotFoundError):
        api.delete_document(document.id)


def test_uploading_several_files_adds_them_to_the_library(loaded: AppTest, api: NimbusClient) -> None:
    files = [("valdoria.pdf", valdoria_pdf(), "application/pdf"), ("bread.md", NOTES, "text/markdown")]

    loaded.sidebar.file_uploader[0].set_value(files).run()

    assert not loaded.exception
    assert sorted(d.name for d in api.list_documents().items) == ["bread.md", "valdoria.pdf"]
    assert texts(loaded.toast) == [
        "Added valdoria.pdf; it is being indexed.",
        "Added bread.md; it is being indexed.",
    ]
    assert loaded.sidebar.file_uploader[0].key == "uploader-1"  # a fresh, empty uploader
    assert "No documents yet" not in " ".join(texts(loaded.sidebar.caption))


def test_uploading_a_file_already_there_says_so(loaded: AppTest, api: NimbusClient) -> None:
    api.upload_document("bread.md", NOTES)

    loaded.sidebar.file_uploader[0].set_value(("bread-copy.md", NOTES, "text/markdown")).run()

    assert not loaded.exception
    assert texts(loaded.toast) == ["bread-copy.md is already in your documents as bread.md."]
    assert api.list_documents().total == 1


def test_upload_while_a_chat_is_open_attaches_the_file_to_that_chat(loaded: AppTest, api: NimbusClient) -> None:
    chat = api.create_chat("Bread")
    loaded.query_params["chat"] = chat.id
    loaded.run()

    loaded.sidebar.file_uploader[0].set_value(("bread.md", NOTES, "text/markdown")).run()

    assert not loaded.exception
    (document,) = api.list_documents().items
    assert api.chat_documents(chat.id) == [document.id]
    assert document_picker(loaded).value == [document.id]


def test_refused_uploads_are_explained_without_a_traceback(
    small_upload_api: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIMBUS_API_URL", small_upload_api.url)
    page = AppTest.from_file(str(APP_PATH), default_timeout=30)
    page.run()
    too_large = b"x" * ((SMALL_UPLOAD_MB << 20) + 1024)

    page.sidebar.file_uploader[0].set_value([("huge.txt", too_large, "text/plain"), ("empty.txt", b"", "text/plain")])
    page.run()

    assert not page.exception
    assert texts(page.sidebar.error) == [
        "Could not add huge.txt: it is too large",
        "Could not add empty.txt: The uploaded file is empty.",
    ]


def test_links_are_added_as_videos_or_web_pages_and_bad_ones_explained(loaded: AppTest, api: NimbusClient) -> None:
    for link in ["https://youtu.be/dQw4w9WgXcQ", "http://127.0.0.1:9/lighthouses", "ftp://example.com/file"]:
        loaded.sidebar.text_input[0].input(link)
        add_link_button(loaded).click().run()
        assert not loaded.exception

    kinds = sorted((d.kind, d.source_url) for d in api.list_documents().items)
    assert kinds == [
        ("web", "http://127.0.0.1:9/lighthouses"),
        ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ]
    assert texts(loaded.sidebar.error) == [
        "Could not add ftp://example.com/file: Enter a full http:// or https:// address."
    ]
    for document in api.list_documents().items:
        api.delete_document(document.id)


def test_a_document_being_indexed_shows_progress_and_deleting_it_cancels_it(
    loaded: AppTest, api: NimbusClient, indexing: Document
) -> None:
    deadline = time.monotonic() + 60
    while api.get_document(indexing.id).status == "queued":  # until the worker is on it, so deleting cancels
        assert time.monotonic() < deadline, "the ingestion worker never started on the document"
        time.sleep(0.05)
    loaded.run()

    (bar,) = progress_bars(loaded)
    assert bar.text.startswith(("Reading", "Indexing"))
    assert 0 <= bar.value < 100

    loaded.sidebar.button(key=f"delete-document-{indexing.id}").click().run()

    assert not loaded.exception
    assert texts(loaded.toast) == ["Stopped indexing almanac.pdf; it will be removed in a moment."]
    with suppress(NotFoundError):
        assert api.get_document(indexing.id).status == "cancelled"


def test_a_ready_document_shows_its_pages_and_passages(loaded: AppTest, api: NimbusClient) -> None:
    document = wait_until_indexed(api, api.upload_document("valdoria.pdf", valdoria_pdf()).id)

    loaded.run()

    assert not progress_bars(loaded)
    assert f"Ready · 3 pages · {document.chunks} passages" in texts(loaded.sidebar.caption)


def test_deleting_a_document_removes_it(loaded: AppTest, api: NimbusClient) -> None:
    document = wait_until_indexed(api, api.upload_document("bread.md", NOTES).id)
    loaded.run()

    loaded.sidebar.button(key=f"delete-document-{document.id}").click().run()

    assert not loaded.exception
    with pytest.raises(NotFoundError):
        api.get_document(document.id)
    assert texts(loaded.toast) == ["Deleted bread.md."]
    assert any("No documents yet" in c for c in texts(loaded.sidebar.caption))


def test_document_picker_limits_the_open_chat_to_the_chosen_documents(loaded: AppTest, api: NimbusClient) -> None:
    bread = api.upload_document("bread.md", NOTES)
    valdoria = api.upload_document("valdoria.pdf", valdoria_pdf())
    chat = api.create_chat()
    loaded.query_params["chat"] = chat.id
    loaded.run()
    assert document_picker(loaded).value == []

    document_picker(loaded).select(valdoria.id).run()
    assert api.chat_documents(chat.id) == [valdoria.id]
    assert document_picker(loaded).value == [valdoria.id]

    document_picker(loaded).unselect(valdoria.id).run()
    assert api.chat_documents(chat.id) == []
    assert bread.id != valdoria.id


def test_answer_lists_its_sources_with_page_and_passage(
    loaded: AppTest, api: NimbusClient, fake_openai: FakeOpenAI
) -> None:
    chat = api.create_chat()
    wait_until_indexed(api, api.upload_document("valdoria.pdf", valdoria_pdf(), chat.id).id)
    loaded.query_params["chat"] = chat.id
    loaded.run()
    fake_openai.script(Reply("Ilse Marten kept the diary [1]."))

    loaded.chat_input[0].set_value(LIGHTHOUSE_QUESTION).run()

    assert not loaded.exception
    answer = loaded.chat_message[-1]
    (sources,) = answer.expander
    assert sources.label == "Sources (1)"
    assert "valdoria\\.pdf** · page 2" in sources.markdown[0].value
    assert "Ilse Marten, kept a diary of every storm" in sources.caption[0].value
    assert [cast(DownloadButton, b).label for b in sources.get("download_button")] == ["Download valdoria.pdf"]


def test_notice_about_documents_still_being_indexed_stays_with_the_answer(
    loaded: AppTest, indexing: Document, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply("The tides are listed in the almanac."))

    loaded.chat_input[0].set_value("When is high water?").run()

    assert not loaded.exception
    (notice,) = loaded.chat_message[-1].info
    assert notice.value.startswith("Still being indexed: almanac.pdf")
    loaded.run()
    assert loaded.chat_message[-1].info[0].value == notice.value
