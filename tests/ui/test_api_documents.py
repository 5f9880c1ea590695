"""The UI's client for documents against the real API: upload, status, duplicates, links, deletion, selection."""

from __future__ import annotations

import time

import pytest
from ui.api_client import NimbusClient
from ui.api_errors import ApiError, NotFoundError

from tests.conftest import LiveServer
from tests.ui.conftest import SMALL_UPLOAD_MB
from tests.ui.helpers import long_pdf, valdoria_pdf, wait_until_indexed

NOTES = b"# Bread\n\nMix flour, water, salt and yeast; bake at 230 degrees for forty minutes.\n"


def test_uploaded_pdf_is_indexed_page_by_page_and_listed(client: NimbusClient) -> None:
    queued = client.upload_document("valdoria.pdf", valdoria_pdf())
    assert queued.status in {"queued", "parsing", "embedding", "ready"}
    assert not queued.duplicate

    document = wait_until_indexed(client, queued.id)

    assert (document.status, document.pages, document.pages_done, document.progress) == ("ready", 3, 3, 1.0)
    assert document.chunks >= 3
    assert (document.kind, document.media_type, document.error) == ("file", "application/pdf", None)
    assert document.finished_at is not None
    assert [d.id for d in client.list_documents().items] == [queued.id]
    assert client.document_file(queued.id) == valdoria_pdf()


def test_upload_into_a_chat_makes_that_chat_use_it(client: NimbusClient) -> None:
    chat, other = client.create_chat("With the PDF"), client.create_chat("Whole library")

    document = client.upload_document("notes.md", NOTES, chat.id)

    assert client.chat_documents(chat.id) == [document.id]
    assert client.chat_documents(other.id) == []


def test_the_same_file_again_is_reported_as_a_duplicate(client: NimbusClient) -> None:
    first = client.upload_document("notes.md", NOTES)
    again = client.upload_document("copy-of-notes.md", NOTES)
    assert (again.id, again.duplicate, again.name) == (first.id, True, "notes.md")
    assert client.list_documents().total == 1


def test_chat_document_selection_can_be_changed_and_cleared(client: NimbusClient) -> None:
    bread = client.upload_document("bread.md", NOTES)
    other = client.upload_document("other.md", b"Another note, about the weather in March.\n")
    chat = client.create_chat()

    assert client.select_chat_documents(chat.id, [other.id]) == [other.id]
    assert client.chat_documents(chat.id) == [other.id]
    assert sorted(client.select_chat_documents(chat.id, [bread.id, other.id])) == sorted([bread.id, other.id])
    assert client.select_chat_documents(chat.id, []) == []
    assert client.chat_documents(chat.id) == []


def test_selecting_an_unknown_document_is_not_found(client: NimbusClient) -> None:
    chat = client.create_chat()
    with pytest.raises(NotFoundError):
        client.select_chat_documents(chat.id, ["00000000-0000-0000-0000-000000000000"])


def test_empty_upload_is_rejected(client: NimbusClient) -> None:
    with pytest.raises(ApiError) as info:
        client.upload_document("empty.txt", b"")
    assert (info.value.status, info.value.code) == (422, "empty_upload")
    assert client.list_documents().total == 0


@pytest.mark.parametrize("extra_mb", [0.5, 3], ids=["checked-by-the-service", "refused-before-reading"])
def test_too_large_upload_is_rejected(small_upload_api: LiveServer, extra_mb: float) -> None:
    with NimbusClient(small_upload_api.url) as client:
        client.create_session()
        with pytest.raises(ApiError) as info:
            client.upload_document("huge.txt", b"x" * int((SMALL_UPLOAD_MB + extra_mb) * (1 << 20)))
        assert info.value.status == 413
        assert client.list_documents().total == 0


def test_youtube_and_web_links_are_added_as_their_kind(client: NimbusClient) -> None:
    video = client.add_youtube("https://youtu.be/dQw4w9WgXcQ?si=abc")
    page = client.add_web_page("http://127.0.0.1:9/lighthouses")

    assert (video.kind, video.source_url) == ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert (page.kind, page.source_url) == ("web", "http://127.0.0.1:9/lighthouses")
    assert {d.id for d in client.list_documents().items} == {video.id, page.id}
    failed = wait_until_indexed(client, page.id)
    assert failed.status == "failed"  # a private address is refused by default
    assert failed.error
    for document in (video, page):
        client.delete_document(document.id)


def test_unusable_links_are_rejected(client: NimbusClient) -> None:
    with pytest.raises(ApiError) as video:
        client.add_youtube("https://example.com/not-a-video")
    with pytest.raises(ApiError) as page:
        client.add_web_page("ftp://example.com/file")
    assert (video.value.status, video.value.code) == (422, "invalid_source")
    assert (page.value.status, page.value.code) == (422, "invalid_source")


def test_deleting_a_ready_document_removes_it(client: NimbusClient) -> None:
    document = client.upload_document("notes.md", NOTES)
    wait_until_indexed(client, document.id)

    assert client.delete_document(document.id) == "deleted"

    with pytest.raises(NotFoundError):
        client.get_document(document.id)


def test_deleting_a_document_being_indexed_cancels_it(client: NimbusClient) -> None:
    document = client.upload_document("almanac.pdf", long_pdf())
    deadline = time.monotonic() + 60
    while client.get_document(document.id).status == "queued":
        assert time.monotonic() < deadline, "the ingestion worker never started on the document"
        time.sleep(0.05)

    assert client.delete_document(document.id) == "cancelled"

    while any(d.id == document.id for d in client.list_documents().items):
        assert time.monotonic() < deadline + 60, "the cancelled document was never removed"
        time.sleep(0.1)


def test_unknown_document_is_not_found(client: NimbusClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_document("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        client.delete_document("00000000-0000-0000-0000-000000000000")
