"""Answers grounded in the chat's documents: citations, scoping, nothing relevant, documents still indexing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI

from nimbus.app import Components, create_app
from nimbus.config import KnowledgeSettings
from tests.conftest import fake_llm, make_settings, new_token
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.helpers import ask, new_chat
from tests.knowledge.helpers import ingest, upload
from tests.knowledge.test_documents_api import FACTS
from tests.pdfs import make_pdf


async def test_answer_cites_the_page_it_used(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    chat_id = await new_chat(auth)
    document = await ingest(auth, "valdoria.pdf", make_pdf(FACTS), chat_id=chat_id)
    fake_openai.script(Reply("Ilse Marten kept the diary [1]."))
    events = await ask(auth, chat_id, "Who kept a diary of every storm?")
    names = [name for name, _ in events]
    assert names[:2] == ["start", "citations"]
    assert names[-1] == "done"
    citations = dict(events)["citations"]["citations"]
    assert citations[0]["document_id"] == document["id"]
    assert citations[0]["document_name"] == "valdoria.pdf"
    assert citations[0]["page"] == 2
    assert citations[0]["url"] == f"/api/v1/documents/{document['id']}/file#page=2"
    assert "Ilse Marten" in citations[0]["snippet"]

    sent = fake_openai.chat_requests[-1].body["messages"]
    assert "Cite the sources" in sent[0]["content"]
    assert "Sources:" in sent[-1]["content"]
    assert "[1] valdoria.pdf, page 2" in sent[-1]["content"]
    assert sent[-1]["content"].endswith("Question: Who kept a diary of every storm?")

    stored = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert stored[0]["content"] == "Who kept a diary of every storm?"  # the question is stored without sources
    assert stored[1]["citations"][0]["page"] == 2


async def test_non_streaming_answer_includes_citations(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    await ingest(auth, "valdoria.pdf", make_pdf(FACTS), chat_id=chat_id)
    url = f"/api/v1/chats/{chat_id}/messages"
    body = (await auth.post(url, params={"stream": "false"}, json={"content": "What does the harbour export?"})).json()
    assert body["citations"][0]["page"] == 3
    assert {"document_id", "document_name", "page", "url", "snippet"} <= set(body["citations"][0])
    assert body["assistant_message"]["citations"] == body["citations"]


async def test_unrelated_question_says_the_documents_do_not_contain_it(
    auth: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    chat_id = await new_chat(auth)
    await ingest(auth, "valdoria.pdf", make_pdf(FACTS), chat_id=chat_id)
    events = await ask(auth, chat_id, "What is the boiling point of liquid nitrogen in kelvin?")
    assert dict(events)["citations"] == {"citations": []}
    system = fake_openai.chat_requests[-1].body["messages"][0]["content"]
    assert "contain nothing relevant" in system


async def test_chat_uses_only_its_selected_documents(auth: httpx.AsyncClient) -> None:
    valdoria = await ingest(auth, "valdoria.pdf", make_pdf(FACTS))
    other = await ingest(auth, "bread.md", b"# Bread\n\nThe Valdoria bakery sells rye bread and cinnamon rolls.\n")
    chat_id = await new_chat(auth)
    selected = await auth.put(f"/api/v1/chats/{chat_id}/documents", json={"document_ids": [other["id"]]})
    assert selected.json() == {"document_ids": [other["id"]]}
    events = await ask(auth, chat_id, "When was the harbour of Valdoria built?")
    cited = {c["document_id"] for c in dict(events)["citations"]["citations"]}
    assert valdoria["id"] not in cited
    unknown = await auth.put(
        f"/api/v1/chats/{chat_id}/documents", json={"document_ids": ["00000000-0000-0000-0000-000000000000"]}
    )
    assert unknown.status_code == 404
    cleared = await auth.put(f"/api/v1/chats/{chat_id}/documents", json={"document_ids": []})
    assert cleared.json() == {"document_ids": []}
    events = await ask(auth, chat_id, "When was the harbour of Valdoria built?")
    assert valdoria["id"] in {c["document_id"] for c in dict(events)["citations"]["citations"]}


async def test_chat_without_documents_has_no_citations_event(auth: httpx.AsyncClient) -> None:
    events = await ask(auth, await new_chat(auth), "Hello")
    assert [name for name, _ in events] == ["start", "token", "token", "done"]


@pytest_asyncio.fixture
async def no_workers(
    clean_db: str, tmp_path: Path, fake_openai: FakeOpenAI, components: Components
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose ingestion workers are off, so documents stay queued."""
    knowledge = KnowledgeSettings(_env_file=None, ingest_workers=0)
    app: FastAPI = create_app(make_settings(clean_db, tmp_path, fake_llm(fake_openai), knowledge), components)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test") as http:
            http.headers["Authorization"] = f"Bearer {await new_token(http)}"
            yield http


async def test_question_while_a_document_is_indexing_gets_a_notice(no_workers: httpx.AsyncClient) -> None:
    chat_id = await new_chat(no_workers)
    queued = await upload(no_workers, "later.pdf", make_pdf(FACTS), chat_id=chat_id)
    assert queued.status_code == 202
    events = await ask(no_workers, chat_id, "What does the harbour export?")
    notice = dict(events)["notice"]["message"]
    assert "later.pdf" in notice
    assert "Still being indexed" in notice
    url = f"/api/v1/chats/{chat_id}/messages"
    body = (await no_workers.post(url, params={"stream": "false"}, json={"content": "And the lighthouse?"})).json()
    assert "later.pdf" in body["notices"][0]


async def test_cancelling_a_queued_document_removes_it(no_workers: httpx.AsyncClient) -> None:
    queued = (await upload(no_workers, "later.pdf", make_pdf(FACTS))).json()
    assert (await no_workers.delete(f"/api/v1/documents/{queued['id']}")).status_code == 204
    assert (await no_workers.get(f"/api/v1/documents/{queued['id']}")).status_code == 404
