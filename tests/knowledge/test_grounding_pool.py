"""A grounded question must not pin a database connection while its embedding is computed: with a remote
embedding provider that is a network round trip, and a hung provider would otherwise starve the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from nimbus.app import Components, create_app
from nimbus.config import DatabaseSettings, KnowledgeSettings
from nimbus.state import AppState
from tests.conftest import fake_llm, make_settings, new_token
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.fake_embeddings_server import FakeEmbeddings, Vectors
from tests.knowledge.helpers import ingest

SLOW_SECONDS = 3.0


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
def embeddings() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings() as server:
        yield server


@pytest_asyncio.fixture
async def app_with_two_connections(
    clean_db: str, tmp_path: Path, fake_openai: FakeOpenAI, embeddings: FakeEmbeddings
) -> AsyncIterator[FastAPI]:
    """The API with two pooled connections (an ingestion job needs both) and OpenAI-compatible embeddings
    from the fake server."""
    knowledge = KnowledgeSettings(
        _env_file=None,
        embedding_provider="openai",
        embedding_model="fake-embedding-model",
        embedding_base_url=embeddings.base_url,
        min_similarity=-1.0,  # the fake's vectors are random: keep every hit so citations can be checked
    )
    settings = make_settings(clean_db, tmp_path, fake_llm(fake_openai), knowledge)
    settings.database = DatabaseSettings(
        _env_file=None, url=clean_db, migrate_on_start=False, pool_size=2, max_overflow=0, pool_timeout_seconds=1
    )
    application = create_app(settings, Components())
    async with application.router.lifespan_context(application):
        yield application


async def test_a_slow_query_embedding_leaves_the_pool_free(
    app_with_two_connections: FastAPI, embeddings: FakeEmbeddings
) -> None:
    transport = httpx.ASGITransport(app=app_with_two_connections)
    async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test", timeout=30) as http:
        http.headers["Authorization"] = f"Bearer {await new_token(http)}"
        document = await ingest(http, "notes.txt", b"The lighthouse of Valdoria was lit in 1783.\n")
        assert document["status"] == "ready"
        chat_id = (await http.post("/api/v1/chats", json={})).json()["id"]
        requests_before = len(embeddings.requests)
        embeddings.script(Vectors(delay_seconds=SLOW_SECONDS))
        state: AppState = app_with_two_connections.state.nimbus
        async with state.database.engine.connect():  # now one connection is left for the requests
            turn = asyncio.create_task(
                http.post(f"/api/v1/chats/{chat_id}/messages", params={"stream": "false"}, json={"content": "When?"})
            )
            await until(lambda: len(embeddings.requests) > requests_before)  # the question is being embedded
            # That connection is free: other requests go through while the embedding is still pending.
            chats = await http.get("/api/v1/chats")
            history = await http.get(f"/api/v1/chats/{chat_id}")
            assert chats.status_code == 200, chats.text
            assert history.status_code == 200, history.text
            assert [m["content"] for m in history.json()["messages"]] == ["When?"]  # stored before retrieval
            assert not turn.done()
            answered = await turn
    assert answered.status_code == 200, answered.text
    assert [c["document_name"] for c in answered.json()["citations"]] == ["notes.txt"]
