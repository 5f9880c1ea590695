"""Documents over the API: upload, status and progress, duplicates, bad files, deletion, isolation."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from nimbus.knowledge.models import Chunk, ChunkTerm, Document
from nimbus.state import AppState
from tests.knowledge.helpers import ingest, upload, wait_final
from tests.pdfs import make_pdf

FACTS = [
    "Chapter one. The harbour of Valdoria was built in 1652 by stonemasons from Genoa.",
    "Chapter two. The Valdorian lighthouse keeper, Ilse Marten, kept a diary of every storm.\n"
    "The great storm of 1783 destroyed half of the fishing fleet.",
    "Chapter three. Today the harbour exports olive oil, cork and hand-painted tiles.",
]


async def _count(app: FastAPI, model: type[Chunk] | type[ChunkTerm] | type[Document]) -> int:
    state: AppState = app.state.nimbus
    async with state.database.transaction() as db:
        return await db.scalar(select(func.count()).select_from(model)) or 0


async def test_pdf_is_ingested_with_pages_chunks_and_timings(auth: httpx.AsyncClient, app: FastAPI) -> None:
    response = await upload(auth, "valdoria.pdf", make_pdf(FACTS))
    assert response.status_code == 202
    queued = response.json()
    assert queued["status"] in {"queued", "parsing", "embedding", "ready"}
    document = await wait_final(auth, queued["id"])
    assert document["status"] == "ready", document
    assert (document["pages"], document["pages_done"], document["progress"]) == (3, 3, 1.0)
    assert document["chunks"] >= 1
    assert document["media_type"] == "application/pdf"
    assert {"parse", "embed", "index", "total"} <= set(document["timings"])
    assert document["error"] is None
    assert await _count(app, Chunk) == document["chunks"]
    assert await _count(app, ChunkTerm) > 10
    listed = (await auth.get("/api/v1/documents")).json()
    assert [d["id"] for d in listed["items"]] == [queued["id"]]


async def test_duplicate_upload_returns_the_existing_document(auth: httpx.AsyncClient) -> None:
    data = make_pdf(FACTS)
    first = await ingest(auth, "a.pdf", data)
    again = await upload(auth, "renamed-copy.pdf", data)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["duplicate"] is True
    assert (await auth.get("/api/v1/documents")).json()["total"] == 1


async def test_scanned_pdf_without_text_ends_as_no_text(auth: httpx.AsyncClient) -> None:
    document = await ingest(auth, "scan.pdf", make_pdf(["", ""]))
    assert document["status"] == "no_text"
    assert "text" in document["error"]
    assert document["chunks"] == 0


async def test_corrupt_and_unsupported_files_fail_with_a_reason(auth: httpx.AsyncClient) -> None:
    truncated = make_pdf(FACTS)[:400]
    broken = await ingest(auth, "broken.pdf", truncated)
    assert broken["status"] == "failed"
    assert broken["error"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    image = await ingest(auth, "notes.txt", png)
    assert image["status"] == "failed"
    assert "unsupported" in image["error"].lower()


async def test_text_markdown_and_html_are_ingested(auth: httpx.AsyncClient) -> None:
    markdown = b"# Recipes\n\n## Bread\n\nMix flour, water, salt and yeast. Bake at 230 degrees.\n"
    html = b"<!doctype html><html><head><title>Tides</title></head><body><article><h1>Tides</h1>"
    html += b"<p>Spring tides happen at new and full moon, when the sun and moon align.</p>" * 3
    html += b"</article></body></html>"
    for name, data in [("recipes.md", markdown), ("tides.html", html), ("plain.txt", b"Just a plain line of text.")]:
        document = await ingest(auth, name, data)
        assert document["status"] == "ready", (name, document)
        assert document["chunks"] >= 1


async def test_empty_upload_and_missing_file_are_rejected(auth: httpx.AsyncClient) -> None:
    empty = await upload(auth, "empty.pdf", b"")
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "empty_upload"
    missing = await auth.post("/api/v1/documents", data={"chat_id": ""})
    assert missing.status_code == 422


async def test_upload_to_a_chat_selects_it_and_unknown_chats_are_404(auth: httpx.AsyncClient) -> None:
    chat_id = (await auth.post("/api/v1/chats", json={})).json()["id"]
    document = await ingest(auth, "v.pdf", make_pdf(FACTS), chat_id=chat_id)
    assert (await auth.get(f"/api/v1/chats/{chat_id}/documents")).json() == {"document_ids": [document["id"]]}
    unknown = await upload(auth, "x.pdf", make_pdf(["x"]), chat_id="00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404


async def test_documents_are_private_to_their_session(auth: httpx.AsyncClient, stranger: httpx.AsyncClient) -> None:
    document = await ingest(auth, "mine.pdf", make_pdf(FACTS))
    assert (await stranger.get(f"/api/v1/documents/{document['id']}")).status_code == 404
    assert (await stranger.delete(f"/api/v1/documents/{document['id']}")).status_code == 404
    assert (await stranger.get(f"/api/v1/documents/{document['id']}/file")).status_code == 404
    assert (await stranger.get("/api/v1/documents")).json()["total"] == 0
    hits = (await stranger.get("/api/v1/search", params={"q": "Valdoria harbour"})).json()["hits"]
    assert hits == []


async def test_original_file_is_served_for_citations(auth: httpx.AsyncClient) -> None:
    data = make_pdf(FACTS)
    document = await ingest(auth, "valdoria.pdf", data)
    served = await auth.get(f"/api/v1/documents/{document['id']}/file")
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "application/pdf"


async def test_delete_removes_document_chunks_and_file(auth: httpx.AsyncClient, app: FastAPI) -> None:
    document = await ingest(auth, "valdoria.pdf", make_pdf(FACTS))
    state: AppState = app.state.nimbus
    blobs = list((state.settings.server.data_dir / "blobs").rglob("*"))
    assert any(p.is_file() for p in blobs)
    assert (await auth.delete(f"/api/v1/documents/{document['id']}")).status_code == 204
    assert (await auth.get(f"/api/v1/documents/{document['id']}")).status_code == 404
    assert (await _count(app, Chunk), await _count(app, ChunkTerm), await _count(app, Document)) == (0, 0, 0)
    assert not any(p.is_file() for p in (state.settings.server.data_dir / "blobs").rglob("*"))


async def test_search_endpoint_returns_cited_passages(auth: httpx.AsyncClient) -> None:
    document = await ingest(auth, "valdoria.pdf", make_pdf(FACTS))
    body = (await auth.get("/api/v1/search", params={"q": "Who kept a diary of the storms?", "k": 3})).json()
    assert body["mode"] == "hybrid"
    top = body["hits"][0]
    assert top["document_id"] == document["id"]
    assert top["page"] == 2
    assert "Ilse Marten" in top["snippet"]
    assert top["url"].endswith("#page=2")
    for mode in ("vector", "lexical"):
        hits = (await auth.get("/api/v1/search", params={"q": "lighthouse diary storm", "mode": mode})).json()["hits"]
        assert hits[0]["page"] == 2, mode
    assert (await auth.get("/api/v1/search", params={"q": ""})).status_code == 422
