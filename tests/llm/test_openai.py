"""OpenAIChatModel against a real local HTTP server speaking the OpenAI protocol."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from nimbus.config import LLMSettings
from nimbus.llm.base import GenerationParams, PromptMessage, StreamEvent, TextDelta, Usage
from nimbus.llm.errors import LLMError, LLMRateLimited, LLMTimeout, LLMUnavailable
from nimbus.llm.openai import OpenAIChatModel
from tests.fakes.openai_server import FakeOpenAI, Hang, HangMidStream, Reply, Status

QUESTION = [PromptMessage("system", "Be brief."), PromptMessage("user", "Say hello")]
SECRET = "sk-test-0123456789abcdef"


def settings(base_url: str, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {"base_url": base_url, "model": "fake-model", "timeout_seconds": 5.0}
    values |= {"max_retries": 2, "api_key": None} | overrides
    return LLMSettings(_env_file=None, **values)


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


@pytest.fixture
async def model(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIChatModel]:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url))
    yield chat_model
    await chat_model.aclose()


async def test_stream_yields_deltas_in_order_then_one_usage(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(chunks=["Hel", "lo", " world"], usage=(7, 3)))

    events = await collect(model.stream(QUESTION, GenerationParams()))

    assert events == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" world"), Usage(7, 3, "stop")]


async def test_request_carries_messages_params_and_usage_option(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    await collect(model.stream(QUESTION, GenerationParams(temperature=0.7, max_tokens=5, stop=("\n",))))

    [request] = fake_openai.chat_requests
    assert request.body["model"] == "fake-model"
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert (request.body["temperature"], request.body["max_tokens"], request.body["stop"]) == (0.7, 5, ["\n"])
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["authorization"] == "Bearer not-needed"


async def test_configured_api_key_is_sent_as_bearer(fake_openai: FakeOpenAI) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, api_key=SecretStr(SECRET)))
    try:
        await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {SECRET}"


async def test_server_rejecting_stream_options_is_retried_without_and_remembered(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Status(400), Reply("first"), Reply("second"))

    first = await collect(model.stream(QUESTION, GenerationParams()))
    second = await collect(model.stream(QUESTION, GenerationParams()))

    assert first == [TextDelta("first"), Usage(None, None, "stop")]
    assert second == [TextDelta("second"), Usage(None, None, "stop")]
    assert ["stream_options" in r.body for r in fake_openai.chat_requests] == [True, False, False]


async def test_rate_limit_is_retried_after_the_retry_after_delay(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Status(429, headers={"Retry-After": "1"}), Reply("ok"))

    started = time.monotonic()
    events = await collect(model.stream(QUESTION, GenerationParams()))

    assert time.monotonic() - started >= 0.95
    assert events[0] == TextDelta("ok")
    assert len(fake_openai.chat_requests) == 2


async def test_rate_limit_after_all_retries_is_llm_rate_limited(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(*[Status(429, headers={"Retry-After-Ms": "10", "Retry-After": "7"})] * 3)

    with pytest.raises(LLMRateLimited) as caught:
        await collect(model.stream(QUESTION, GenerationParams()))

    assert caught.value.headers == {"Retry-After": "7"}
    assert len(fake_openai.chat_requests) == 3


async def test_server_error_is_retried_then_succeeds(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(503, headers={"Retry-After-Ms": "10"}), Reply("back"))

    events = await collect(model.stream(QUESTION, GenerationParams()))

    assert events[0] == TextDelta("back")
    assert len(fake_openai.chat_requests) == 2


async def test_server_error_after_all_retries_is_llm_error_with_status(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(*[Status(500, headers={"Retry-After-Ms": "10"})] * 3)

    with pytest.raises(LLMError) as caught:
        await collect(model.stream(QUESTION, GenerationParams()))

    assert type(caught.value) is LLMError
    assert "HTTP 500" in caught.value.message
    assert len(fake_openai.chat_requests) == 3


async def test_server_that_never_answers_is_llm_timeout(fake_openai: FakeOpenAI) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, timeout_seconds=0.3, max_retries=0))
    fake_openai.script(Hang(10))
    started = time.monotonic()
    try:
        with pytest.raises(LLMTimeout):
            await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert time.monotonic() - started < 3


async def test_stream_that_stalls_midway_is_llm_timeout(fake_openai: FakeOpenAI) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, timeout_seconds=0.3, max_retries=0))
    fake_openai.script(HangMidStream("partial answer", 10))
    received: list[StreamEvent] = []

    async def consume() -> None:
        async for event in chat_model.stream(QUESTION, GenerationParams()):
            received.append(event)

    try:
        with pytest.raises(LLMTimeout):
            await consume()
    finally:
        await chat_model.aclose()

    assert received == [TextDelta("partial "), TextDelta("answer")]


async def test_unreachable_server_is_unavailable_naming_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    chat_model = OpenAIChatModel(settings(base_url, max_retries=0))
    try:
        with pytest.raises(LLMUnavailable) as caught:
            await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert base_url in caught.value.message


@pytest.mark.parametrize("code", [401, 403])
async def test_rejected_key_is_unavailable_without_leaking_it(fake_openai: FakeOpenAI, code: int) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, api_key=SecretStr(SECRET)))
    fake_openai.script(Status(code, body={"error": {"message": f"Incorrect API key provided: {SECRET}"}}))
    try:
        with pytest.raises(LLMUnavailable) as caught:
            await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert caught.value.message == "The provider rejected the API key."
    assert len(fake_openai.chat_requests) == 1


async def test_other_client_errors_keep_the_server_message_minus_the_key(fake_openai: FakeOpenAI) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, api_key=SecretStr(SECRET)))
    fake_openai.script(Status(404, body={"error": {"message": f"model fake-model not found for {SECRET}"}}))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert "HTTP 404" in caught.value.message
    assert "model fake-model not found" in caught.value.message
    assert SECRET not in caught.value.message


async def test_status_is_ready_without_a_request(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    status = await model.status()

    assert status.ready
    assert status.detail == f"configured: fake-model at {fake_openai.base_url}"
    assert fake_openai.requests == []


async def test_model_defaults_to_gpt_4o_mini(fake_openai: FakeOpenAI) -> None:
    chat_model = OpenAIChatModel(settings(fake_openai.base_url, model=None))
    try:
        await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    assert chat_model.model == "gpt-4o-mini"
    assert fake_openai.chat_requests[0].body["model"] == "gpt-4o-mini"


async def test_api_version_switches_to_azure_deployment_urls(fake_openai: FakeOpenAI) -> None:
    azure = settings(fake_openai.url, model="my-deployment", api_version="2024-10-21", api_key=SecretStr(SECRET))
    chat_model = OpenAIChatModel(azure)
    try:
        events = await collect(chat_model.stream(QUESTION, GenerationParams()))
    finally:
        await chat_model.aclose()

    [request] = fake_openai.chat_requests
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query == "api-version=2024-10-21"
    assert request.headers["api-key"] == SECRET
    assert events[-1] == Usage(4, 3, "stop")
