"""Shared fixtures: the fake OpenAI server and the real local model (register with `pytest_plugins`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from nimbus.llm.local import LocalChatModel
from nimbus.llm.model_files import DEFAULT_MODEL_FILENAME, ensure_default_model
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """One fake OpenAI server for the whole run."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The shared fake server with an empty script, no recorded requests and the echo default."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


@pytest.fixture(scope="session")
def local_model_path(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real default GGUF, assembled from the installed wheels once into pytest's cache."""
    cache = getattr(pytestconfig, "cache", None)  # None with -p no:cacheprovider
    models = cache.mkdir("nimbus-models") if cache is not None else tmp_path_factory.mktemp("models")
    return ensure_default_model(models / DEFAULT_MODEL_FILENAME)


@pytest_asyncio.fixture(scope="session")
async def local_chat_model(local_model_path: Path) -> AsyncIterator[LocalChatModel]:
    """The real local model, loaded once per run (2048-token context)."""
    model = LocalChatModel(local_model_path, context_tokens=2048)
    await model.load()
    yield model
    await model.aclose()
