"""Helpers for knowledge API tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

FINAL = {"ready", "no_text", "failed", "cancelled"}
WAIT_SECONDS = 120


async def upload(http: httpx.AsyncClient, name: str, data: bytes, chat_id: str | None = None) -> httpx.Response:
    form = {"chat_id": chat_id} if chat_id else None
    return await http.post("/api/v1/documents", files={"file": (name, data)}, data=form)


async def wait_final(http: httpx.AsyncClient, document_id: str) -> dict[str, Any]:
    """Poll a document until its ingestion ends (at most WAIT_SECONDS)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            document: dict[str, Any] = (await http.get(f"/api/v1/documents/{document_id}")).json()
            if document["status"] in FINAL:
                return document
            await asyncio.sleep(0.1)


async def ingest(http: httpx.AsyncClient, name: str, data: bytes, chat_id: str | None = None) -> dict[str, Any]:
    response = await upload(http, name, data, chat_id)
    assert response.status_code == 202, response.text
    return await wait_final(http, response.json()["id"])
