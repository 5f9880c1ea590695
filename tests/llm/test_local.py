"""LocalChatModel: the real Qwen GGUF through llama.cpp, plus load failures with real files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from nimbus.llm.base import GenerationParams, PromptMessage, StreamEvent, TextDelta, Usage
from nimbus.llm.errors import LLMUnavailable
from nimbus.llm.local import LocalChatModel

HELLO = [PromptMessage("user", "Reply with the single word: hello")]
COUNT = [PromptMessage("user", "Count from 1 to 200, separated by spaces.")]


@pytest.mark.slow
async def test_real_model_answers_and_reports_usage(local_chat_model: LocalChatModel) -> None:
    events = [e async for e in local_chat_model.stream(HELLO, GenerationParams(temperature=0, max_tokens=8))]

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    usage = events[-1]
    assert "hello" in text.lower()
    assert isinstance(usage, Usage)
    assert usage.completion_tokens is not None
    assert usage.completion_tokens > 0
    assert usage.prompt_tokens is not None
    assert usage.prompt_tokens > 10
    assert [e for e in events if isinstance(e, Usage)] == [usage]
    assert (await local_chat_model.status()).ready
    assert local_chat_model.model == "qwen2.5-coder-1.5b-instruct-q4_k_m"


@pytest.mark.slow
async def test_second_stream_waits_and_early_close_frees_the_model(local_chat_model: LocalChatModel) -> None:
    first = local_chat_model.stream(COUNT, GenerationParams(temperature=0, max_tokens=400))
    assert isinstance(first, AsyncGenerator)
    assert isinstance(await anext(first), TextDelta)
    second: list[tuple[float, StreamEvent]] = []

    async def run_second() -> None:
        async for event in local_chat_model.stream(HELLO, GenerationParams(temperature=0, max_tokens=4)):
            second.append((time.monotonic(), event))

    waiting = asyncio.create_task(run_second())
    await asyncio.sleep(0.5)
    assert isinstance(await anext(first), TextDelta)
    assert second == []
    assert local_chat_model.busy

    closed_at = time.monotonic()
    await first.aclose()
    close_seconds = time.monotonic() - closed_at
    await asyncio.wait_for(waiting, timeout=120)

    assert close_seconds < 5
    assert second[0][0] > closed_at
    assert isinstance(second[-1][1], Usage)
    assert not local_chat_model.busy


@pytest.mark.slow
async def test_cancelled_consumer_releases_the_model(local_chat_model: LocalChatModel) -> None:
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for _ in local_chat_model.stream(COUNT, GenerationParams(temperature=0, max_tokens=400)):
            first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), timeout=120)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - cancelled_at < 5
    assert not local_chat_model.busy


async def test_file_that_is_not_a_gguf_reports_the_load_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a model" * 100)
    model = LocalChatModel(broken, context_tokens=512, threads=1)
    try:
        before = await model.status()
        with pytest.raises(LLMUnavailable, match="Could not load the local model"):
            await model.load()
        after = await model.status()
        with pytest.raises(LLMUnavailable):
            await anext(model.stream(HELLO, GenerationParams()))
    finally:
        await model.aclose()

    assert (before.ready, before.detail) == (False, "broken is not loaded yet (loads on first use)")
    assert not after.ready
    assert "broken.gguf" in after.detail


async def test_closed_model_refuses_to_stream(tmp_path: Path) -> None:
    model = LocalChatModel(tmp_path / "never-loaded.gguf")
    await model.aclose()

    with pytest.raises(LLMUnavailable, match="shut down"):
        await anext(model.stream(HELLO, GenerationParams()))
    status = await model.status()

    assert not status.ready
    assert model.provider == "local"
    assert model.model == "never-loaded"
