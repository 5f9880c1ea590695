"""build_chat_model picks the provider from settings and explains what is missing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from nimbus.config import LLMProvider, LLMSettings
from nimbus.llm.base import ChatModel, GenerationParams, PromptMessage, TextDelta
from nimbus.llm.errors import LLMUnavailable
from nimbus.llm.factory import build_chat_model
from nimbus.llm.local import LocalChatModel
from nimbus.llm.model_files import DEFAULT_MODEL_FILENAME
from nimbus.llm.openai import OpenAIChatModel
from nimbus.llm.unavailable import UnavailableChatModel
from tests.fakes.openai_server import FakeOpenAI

HELLO = [PromptMessage("user", "hello")]


def llm_settings(**values: Any) -> LLMSettings:
    return LLMSettings(_env_file=None, **({"api_key": None, "base_url": None} | values))


async def test_base_url_selects_an_openai_compatible_server(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    model = build_chat_model(llm_settings(base_url=fake_openai.base_url), tmp_path)
    try:
        first = await anext(model.stream(HELLO, GenerationParams()))
    finally:
        await model.aclose()

    assert isinstance(model, OpenAIChatModel)
    assert isinstance(model, ChatModel)
    assert first == TextDelta("Echo: ")


async def test_missing_model_path_gives_an_unavailable_model_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"

    model = build_chat_model(llm_settings(provider=LLMProvider.LOCAL, model_path=missing), tmp_path)
    status = await model.status()

    assert isinstance(model, UnavailableChatModel)
    assert (model.provider, model.model) == ("local", "missing")
    assert not status.ready
    assert "NIMBUS_LLM_MODEL_PATH" in status.detail
    assert str(missing) in status.detail
    with pytest.raises(LLMUnavailable, match="NIMBUS_LLM_MODEL_PATH"):
        await anext(model.stream(HELLO, GenerationParams()))
    await model.aclose()


async def test_missing_llama_cpp_gives_an_unavailable_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)

    model = build_chat_model(llm_settings(), tmp_path)
    status = await model.status()

    assert isinstance(model, UnavailableChatModel)
    assert "llama-cpp-python" in status.detail
    assert "make install" in status.detail
    assert not (tmp_path / "models").exists()


async def test_azure_without_endpoint_gives_an_unavailable_model(tmp_path: Path) -> None:
    settings = llm_settings(provider=LLMProvider.OPENAI, api_version="2024-10-21", model="deploy")

    model = build_chat_model(settings, tmp_path)

    assert isinstance(model, UnavailableChatModel)
    assert (model.provider, model.model) == ("openai", "deploy")
    assert "NIMBUS_LLM_BASE_URL" in (await model.status()).detail


@pytest.mark.parametrize("base_url", ["localhost:11434", "ftp://models.example", "http://"])
async def test_base_url_that_is_not_http_gives_an_unavailable_model(tmp_path: Path, base_url: str) -> None:
    model = build_chat_model(llm_settings(base_url=base_url), tmp_path)

    assert isinstance(model, UnavailableChatModel)
    assert "NIMBUS_LLM_BASE_URL" in model.reason


async def test_model_path_builds_a_local_model_that_loads_on_demand(tmp_path: Path) -> None:
    gguf = tmp_path / "custom-model.gguf"
    gguf.write_bytes(b"GGUF")

    model = build_chat_model(llm_settings(model_path=gguf, context_tokens=512), tmp_path, preload=False)
    try:
        status = await model.status()
    finally:
        await model.aclose()

    assert isinstance(model, LocalChatModel)
    assert model.model == "custom-model"
    assert "not loaded yet" in status.detail


@pytest.mark.slow
async def test_default_local_model_comes_from_the_data_dir(local_model_path: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / DEFAULT_MODEL_FILENAME).symlink_to(local_model_path)

    model = build_chat_model(llm_settings(), tmp_path)
    assert isinstance(model, LocalChatModel)
    try:
        await model.load()
        status = await model.status()
    finally:
        await model.aclose()

    assert status.ready
    assert model.model == "qwen2.5-coder-1.5b-instruct-q4_k_m"
