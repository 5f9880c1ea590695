"""The answer stream: the SSE parser, and citations and notices as the real API sends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest
from ui.api_client import NimbusClient
from ui.api_errors import NotFoundError
from ui.api_models import Document
from ui.api_stream import StreamCitations, StreamDone, StreamNotice, StreamStart, StreamToken, iter_sse

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.ui.helpers import LIGHTHOUSE_QUESTION, long_pdf, valdoria_pdf, wait_until_indexed


def test_iter_sse_joins_events_split_across_chunks() -> None:
    chunks = [b"event: tok", b'en\ndata: {"text"', b': "a"}\r\n\r\n: keep-alive\n\nevent: done\ndata: {}\n\n']
    assert list(iter_sse(chunks)) == [("token", '{"text": "a"}'), ("done", "{}")]


def test_iter_sse_joins_multiline_data_and_defaults_event_name() -> None:
    assert list(iter_sse([b"data: one\ndata: two\n\n"])) == [("message", "one\ntwo")]


def test_iter_sse_decodes_utf8_split_inside_a_character() -> None:
    raw = 'data: {"text": "é☁"}\n\n'.encode()
    assert list(iter_sse([raw[:15], raw[15:]])) == [("message", '{"text": "é☁"}')]


@pytest.fixture
def indexing(client: NimbusClient) -> Iterator[Document]:
    """A long PDF in the library, still being indexed; cancelled afterwards so it does not hold up the worker."""
    document = client.upload_document("almanac.pdf", long_pdf())
    yield document
    with suppress(NotFoundError):
        client.delete_document(document.id)


def test_answer_stream_cites_the_page_and_the_stored_answer_keeps_it(
    client: NimbusClient, fake_openai: FakeOpenAI
) -> None:
    chat = client.create_chat()
    document = client.upload_document("valdoria.pdf", valdoria_pdf(), chat.id)
    assert wait_until_indexed(client, document.id).status == "ready"
    fake_openai.script(Reply("Ilse Marten kept the diary [1]."))

    events = list(client.send_message(chat.id, LIGHTHOUSE_QUESTION))

    assert [type(e) for e in events[:2]] == [StreamStart, StreamCitations]
    assert isinstance(events[-1], StreamDone)
    citations = events[1].citations if isinstance(events[1], StreamCitations) else []
    first = citations[0]
    assert (first.document_id, first.document_name, first.page) == (document.id, "valdoria.pdf", 2)
    assert first.url == f"/api/v1/documents/{document.id}/file#page=2"
    assert "Ilse Marten" in first.snippet
    assert 0 <= first.char_start < first.char_end
    stored = client.get_chat(chat.id).messages
    assert stored[0].citations == []
    assert stored[1].citations == citations
    assert "".join(e.text for e in events if isinstance(e, StreamToken)) == "Ilse Marten kept the diary [1]."


def test_answer_stream_notes_documents_still_being_indexed(
    client: NimbusClient, indexing: Document, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply("Here is what I found so far."))
    chat = client.create_chat()

    events = list(client.send_message(chat.id, "When is high water?"))

    notices = [e.message for e in events if isinstance(e, StreamNotice)]
    assert len(notices) == 1
    assert "Still being indexed: almanac.pdf" in notices[0]
    assert isinstance(events[-1], StreamDone)


def test_answer_without_documents_has_no_citations_event(client: NimbusClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply("Hello."))
    chat = client.create_chat()

    events = list(client.send_message(chat.id, "Hi"))

    assert not [e for e in events if isinstance(e, StreamCitations | StreamNotice)]
    assert client.get_chat(chat.id).messages[-1].citations == []
