"""Cancelling a running job, YouTube and web links through the API."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from nimbus.app import Components, create_app
from nimbus.config import KnowledgeSettings
from nimbus.knowledge.models import Chunk
from nimbus.state import AppState
from tests.conftest import fake_llm, make_settings, new_token
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.helpers import upload, wait_final
from tests.pdfs import make_pdf

WORDS = [
    "river",
    "harbour",
    "stone",
    "ledger",
    "storm",
    "lantern",
    "cargo",
    "merchant",
    "tide",
    "compass",
    "anchor",
    "rope",
    "sail",
    "island",
    "market",
    "bridge",
    "tower",
    "garden",
    "letter",
    "archive",
    "winter",
    "summer",
    "copper",
    "silver",
    "grain",
    "salt",
    "olive",
    "cork",
]


def long_pdf(pages: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    texts = []
    for page in range(pages):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(30)]
        texts.append(f"Page {page + 1}. " + " ".join(sentences))
    return make_pdf(texts)


async def test_deleting_a_document_while_it_is_embedded_cancels_and_cleans_up(
    auth: httpx.AsyncClient, app: FastAPI
) -> None:
    queued = (await upload(auth, "long.pdf", long_pdf(60))).json()
    for _ in range(600):
        document = (await auth.get(f"/api/v1/documents/{queued['id']}")).json()
        if document["chunks"] > 0:
            break
        await asyncio.sleep(0.02)
    assert document["status"] == "embedding", document
    assert 0 < document["progress"] < 1
    response = await auth.delete(f"/api/v1/documents/{queued['id']}")
    assert response.status_code == 202
    for _ in range(300):
        if (await auth.get(f"/api/v1/documents/{queued['id']}")).status_code == 404:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the cancelled document was not removed")
    state: AppState = app.state.nimbus
    async with state.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Chunk)) == 0
    assert not any(p.is_file() for p in (state.settings.server.data_dir / "blobs").rglob("*"))


@pytest.mark.parametrize(
    "link",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "dQw4w9WgXcQ",
    ],
)
async def test_youtube_links_are_accepted_in_their_usual_forms(auth: httpx.AsyncClient, link: str) -> None:
    response = await auth.post("/api/v1/documents/youtube", json={"url": link})
    assert response.status_code == 202, response.text
    assert response.json()["source_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


async def test_youtube_failures_end_with_a_clear_status(auth: httpx.AsyncClient) -> None:
    bad = await auth.post("/api/v1/documents/youtube", json={"url": "https://example.com/video"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_source"
    queued = (await auth.post("/api/v1/documents/youtube", json={"url": "dQw4w9WgXcQ"})).json()
    document = await wait_final(auth, queued["id"])
    assert document["status"] == "failed"  # this machine cannot reach YouTube
    assert "YouTube" in document["error"]


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (
            b"<!doctype html><html><head><title>Lighthouses</title></head><body><article>"
            b"<h1>Lighthouses</h1><p>The Fresnel lens lets a small flame be seen twenty miles out to sea.</p>"
            b"<p>Keepers trimmed the wicks every four hours through the night.</p></article></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lighthouses"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_private_addresses_are_refused_by_default(auth: httpx.AsyncClient, page_server: str) -> None:
    queued = (await auth.post("/api/v1/documents/url", json={"url": page_server})).json()
    document = await wait_final(auth, queued["id"])
    assert document["status"] == "failed"
    assert "private" in document["error"].lower() or "loopback" in document["error"].lower()
    assert (await auth.post("/api/v1/documents/url", json={"url": "ftp://example.com/x"})).status_code == 422


@pytest_asyncio.fixture
async def private_web(
    clean_db: str, tmp_path: Path, fake_openai: FakeOpenAI, components: Components
) -> AsyncIterator[httpx.AsyncClient]:
    knowledge = KnowledgeSettings(_env_file=None, web_allow_private=True)
    app: FastAPI = create_app(make_settings(clean_db, tmp_path, fake_llm(fake_openai), knowledge), components)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test") as http:
            http.headers["Authorization"] = f"Bearer {await new_token(http)}"
            yield http


async def test_web_page_is_fetched_and_cited_with_its_link(private_web: httpx.AsyncClient, page_server: str) -> None:
    queued = (await private_web.post("/api/v1/documents/url", json={"url": page_server})).json()
    document = await wait_final(private_web, queued["id"])
    assert document["status"] == "ready", document
    assert document["name"] == "Lighthouses"
    hits = (await private_web.get("/api/v1/search", params={"q": "How far can the Fresnel lens be seen?"})).json()
    assert hits["hits"][0]["url"] == page_server
    again = await private_web.post("/api/v1/documents/url", json={"url": page_server})
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
