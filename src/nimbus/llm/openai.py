"""Any OpenAI-compatible chat-completions server (OpenAI, Azure, Ollama, vLLM, llama.cpp server, ...)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, AsyncStream, Omit
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionStreamOptionsParam,
)

from nimbus.config import LLMSettings
from nimbus.llm.base import GenerationParams, ModelStatus, PromptMessage, StreamEvent, TextDelta, Usage
from nimbus.llm.errors import LLMError, LLMRateLimited, LLMTimeout, LLMUnavailable
from nimbus.llm.openai_common import error_detail, is_http_url, scrub

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
PLACEHOLDER_API_KEY = "not-needed"
CONNECT_TIMEOUT_SECONDS = 10.0


class OpenAIChatModel:
    """Streams from an OpenAI-compatible server; the SDK retries 408/409/429/5xx and connection errors."""

    def __init__(self, llm: LLMSettings) -> None:
        self._model = llm.model or DEFAULT_MODEL
        self._secret = llm.api_key.get_secret_value() if llm.api_key else None
        timeout = openai.Timeout(llm.timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, llm.timeout_seconds))
        api_key = self._secret or PLACEHOLDER_API_KEY
        if llm.base_url is not None:
            _check_url(llm.base_url)
        self._client: AsyncOpenAI
        if llm.api_version:
            if not llm.base_url:
                raise LLMUnavailable("Azure OpenAI needs NIMBUS_LLM_BASE_URL set to the resource endpoint.")
            self._client = AsyncAzureOpenAI(
                azure_endpoint=llm.base_url,
                azure_deployment=self._model,
                api_version=llm.api_version,
                api_key=api_key,
                timeout=timeout,
                max_retries=llm.max_retries,
            )
        else:
            self._client = AsyncOpenAI(
                base_url=llm.base_url or None,
                api_key=api_key,
                timeout=timeout,
                max_retries=llm.max_retries,
            )
        self._base_url = str(self._client.base_url).rstrip("/")
        self._send_stream_options = True

    @property
    def provider(self) -> str:
        """Always `openai` (any compatible server)."""
        return "openai"

    @property
    def model(self) -> str:
        """The model (or Azure deployment) name sent with each request."""
        return self._model

    @property
    def base_url(self) -> str:
        """The server the requests go to."""
        return self._base_url

    async def stream(self, messages: Sequence[PromptMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Yield text deltas as they arrive, then one `Usage`; SDK errors become `LLMError`s."""
        try:
            chunks = await self._open(messages, params)
            async with chunks:
                prompt_tokens: int | None = None
                completion_tokens: int | None = None
                finish_reason: str | None = None
                async for chunk in chunks:
                    if chunk.usage is not None:
                        prompt_tokens = chunk.usage.prompt_tokens
                        completion_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        yield Usage(prompt_tokens, completion_tokens, finish_reason)

    async def _open(
        self, messages: Sequence[PromptMessage], params: GenerationParams
    ) -> AsyncStream[ChatCompletionChunk]:
        wire = [_to_wire(message) for message in messages]
        stop = list(params.stop) or openai.omit
        if not self._send_stream_options:
            return await self._create(wire, params, stop, openai.omit)
        try:
            return await self._create(wire, params, stop, {"include_usage": True})
        except openai.BadRequestError:
            log.info("%s rejected the request with stream_options; retrying without", self._base_url)
        chunks = await self._create(wire, params, stop, openai.omit)
        self._send_stream_options = False
        return chunks

    async def _create(
        self,
        wire: list[ChatCompletionMessageParam],
        params: GenerationParams,
        stop: list[str] | Omit,
        stream_options: ChatCompletionStreamOptionsParam | Omit,
    ) -> AsyncStream[ChatCompletionChunk]:
        return await self._client.chat.completions.create(
            model=self._model,
            messages=wire,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            stop=stop,
            stream=True,
            stream_options=stream_options,
        )

    async def status(self) -> ModelStatus:
        """Ready when configured; no network call, so health checks stay fast."""
        return ModelStatus(ready=True, detail=f"configured: {self._model} at {self._base_url}")

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _translate(self, exc: openai.OpenAIError) -> LLMError:
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"{self._base_url} did not answer within the timeout.")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"Cannot connect to the model server at {self._base_url}.")
        if isinstance(exc, openai.RateLimitError):
            retry_after = exc.response.headers.get("retry-after")
            return LLMRateLimited(headers={"Retry-After": retry_after} if retry_after else None)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMUnavailable("The provider rejected the API key.")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"The model server answered HTTP {exc.status_code}: {self._scrub(error_detail(exc))}")
        return LLMError(f"The model server failed: {self._scrub(str(exc))}")

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)


def _check_url(url: str) -> None:
    if not is_http_url(url):
        raise LLMUnavailable("NIMBUS_LLM_BASE_URL must be an http:// or https:// URL.")


def _to_wire(message: PromptMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}
