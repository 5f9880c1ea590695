"""The server starts whatever the model's state, says why it cannot answer, and answers with the real local model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from nimbus.app import Components, create_app
from nimbus.config import LLMSettings
from tests.conftest import make_settings, new_token
from tests.helpers import ask, new_chat


async def _client_for(
    llm: LLMSettings, database_url: str, data_dir: Path, components: Components
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, data_dir, llm), components)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test", timeout=120) as http:
            http.headers["Authorization"] = f"Bearer {await new_token(http)}"
            yield http


@pytest_asyncio.fixture
async def missing_model(clean_db: str, tmp_path: Path, components: Components) -> AsyncIterator[httpx.AsyncClient]:
    llm = LLMSettings(_env_file=None, provider="local", model_path=tmp_path / "absent.gguf")
    async for http in _client_for(llm, clean_db, tmp_path, components):
        yield http


async def test_unusable_model_degrades_health_and_explains_in_chat(missing_model: httpx.AsyncClient) -> None:
    health = await missing_model.get("/healthcheck")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert "absent.gguf" in health.json()["checks"]["llm"]

    model = (await missing_model.get("/api/v1/model")).json()
    assert (model["provider"], model["ready"]) == ("local", False)

    chat_id = await new_chat(missing_model)
    events = await ask(missing_model, chat_id, "Anyone there?")
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "llm_unavailable"
    assert "absent.gguf" in events[-1][1]["message"]
    messages = (await missing_model.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert messages[0]["content"] == "Anyone there?"
    assert messages[1]["status"] == "error"


@pytest_asyncio.fixture
async def real_local_model(
    clean_db: str, tmp_path: Path, local_model_path: Path, components: Components
) -> AsyncIterator[httpx.AsyncClient]:
    llm = LLMSettings(
        _env_file=None, provider="local", model_path=local_model_path, max_tokens=12, context_tokens=1024, temperature=0
    )
    async for http in _client_for(llm, clean_db, tmp_path, components):
        yield http


@pytest.mark.slow
async def test_real_local_model_answers_through_the_api(real_local_model: httpx.AsyncClient) -> None:
    chat_id = await new_chat(real_local_model)
    response = await real_local_model.post(
        f"/api/v1/chats/{chat_id}/messages",
        params={"stream": "false"},
        json={"content": "What is the capital of France? Answer with one word."},
    )
    assert response.status_code == 200, response.text
    answer = response.json()["assistant_message"]
    assert "paris" in answer["content"].lower()
    assert answer["status"] == "complete"
    assert answer["completion_tokens"] > 0
    assert answer["model"].startswith("qwen2.5-coder-1.5b")
