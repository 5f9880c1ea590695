"""With the database gone, clients get 503 with a clear error, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from nimbus.app import Components, create_app
from tests.conftest import fake_llm, free_port, make_settings
from tests.fakes.openai_server import FakeOpenAI


@pytest_asyncio.fixture
async def offline_db_client(
    tmp_path: Path, fake_openai: FakeOpenAI, components: Components
) -> AsyncIterator[httpx.AsyncClient]:
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/nimbus"
    app = create_app(make_settings(url, tmp_path, fake_llm(fake_openai)), components)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test") as http:
            yield http


async def test_requests_get_503_when_the_database_is_unreachable(offline_db_client: httpx.AsyncClient) -> None:
    created = await offline_db_client.post("/api/v1/sessions")
    assert created.status_code == 503
    assert created.json()["error"]["code"] == "database_unavailable"
    listed = await offline_db_client.get("/api/v1/chats", headers={"Authorization": "Bearer x"})
    assert listed.status_code == 503


async def test_health_reports_down_and_readiness_fails(offline_db_client: httpx.AsyncClient) -> None:
    health = await offline_db_client.get("/healthcheck")
    assert health.status_code == 503
    assert health.json()["status"] == "down"
    assert "unreachable" in health.json()["checks"]["database"]
    assert (await offline_db_client.get("/readyz")).status_code == 503
    assert (await offline_db_client.get("/healthz")).status_code == 200
