"""An OpenAI-compatible `/v1`: any OpenAI client can talk to Nimbus, the session token as its API key.

Completions here are stateless, as in the OpenAI protocol: the client sends the whole conversation.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from nimbus.chat.conversation import check_length
from nimbus.chat.errors import MessageTooLong
from nimbus.chat.grounding import ground_prompt
from nimbus.compat.openai_schemas import (
    AssistantMessage,
    Choice,
    Completion,
    CompletionRequest,
    CompletionUsage,
    ModelCard,
    ModelList,
)
from nimbus.knowledge import retrieval_service
from nimbus.llm.base import GenerationParams, PromptMessage, Role, TextDelta, Usage
from nimbus.llm.errors import LLMError, LLMRateLimited, LLMTimeout, LLMUnavailable
from nimbus.openapi import error_responses
from nimbus.sessions.deps import CurrentSession
from nimbus.state import AppState, State

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])


def _prompt(request: CompletionRequest, state: AppState) -> list[PromptMessage]:
    messages: list[PromptMessage] = []
    for message in request.messages:
        if message.role == "tool":
            continue
        text = message.text()
        check_length(text, state.settings)
        role: Role = "system" if message.role in ("system", "developer") else message.role  # type: ignore[assignment]
        messages.append(PromptMessage(role=role, content=text))
    if not any(m.role == "system" for m in messages):
        messages.insert(0, PromptMessage("system", state.settings.llm.system_prompt))
    return messages


async def _grounded(state: AppState, session_id: uuid.UUID, prompt: list[PromptMessage]) -> list[PromptMessage]:
    """The same retrieval as the chat API when the session has documents."""
    if prompt[-1].role != "user":
        return prompt
    async with state.database.transaction() as db:
        documents = await retrieval_service.documents_in_scope(db, session_id, None)
    grounding = await retrieval_service.ground(state, documents, prompt[-1].content)
    return ground_prompt(prompt, grounding.hits) if grounding.has_documents else prompt


def _params(request: CompletionRequest, state: AppState) -> GenerationParams:
    defaults = state.generation_params()
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    return GenerationParams(
        temperature=defaults.temperature if request.temperature is None else request.temperature,
        max_tokens=request.max_completion_tokens or request.max_tokens or defaults.max_tokens,
        stop=stop,
    )


def _usage(usage: Usage | None) -> CompletionUsage:
    prompt = (usage.prompt_tokens if usage else None) or 0
    completion = (usage.completion_tokens if usage else None) or 0
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


@router.get("/models")
async def models(state: State, _: CurrentSession) -> ModelList:
    """The one model this Nimbus serves."""
    card = ModelCard(id=state.chat_model.model, created=int(state.started_at.timestamp()), owned_by="nimbus")
    return ModelList(data=[card])


@router.post(
    "/chat/completions",
    response_model=Completion,
    responses=error_responses(MessageTooLong, LLMError, LLMUnavailable, LLMTimeout, LLMRateLimited),
)
async def chat_completions(
    request: CompletionRequest, state: State, session: CurrentSession
) -> Completion | EventSourceResponse:
    """Chat completions, streamed (`stream: true`) or whole."""
    prompt = await _grounded(state, session.id, _prompt(request, state))
    params = _params(request, state)
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    if request.stream:
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        chunks = _stream(state, prompt, params, completion_id, include_usage)
        return EventSourceResponse(chunks, ping=15, sep="\n", headers={"X-Accel-Buffering": "no"})
    parts: list[str] = []
    usage: Usage | None = None
    async for event in state.chat_model.stream(prompt, params):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            usage = event
    return Completion(
        id=completion_id,
        created=int(time.time()),
        model=state.chat_model.model,
        choices=[Choice(message=AssistantMessage(content="".join(parts)), finish_reason=_finish(usage))],
        usage=_usage(usage),
    )


def _finish(usage: Usage | None) -> str:
    return (usage.finish_reason if usage else None) or "stop"


async def _stream(
    state: AppState,
    prompt: list[PromptMessage],
    params: GenerationParams,
    completion_id: str,
    include_usage: bool,
) -> AsyncIterator[ServerSentEvent]:
    created = int(time.time())
    model = state.chat_model.model

    def chunk(delta: dict[str, str], finish: str | None = None) -> ServerSentEvent:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))

    yield chunk({"role": "assistant", "content": ""})
    usage: Usage | None = None
    try:
        async for event in state.chat_model.stream(prompt, params):
            if isinstance(event, TextDelta):
                yield chunk({"content": event.text})
            else:
                usage = event
    except LLMError as exc:
        yield ServerSentEvent(data=json.dumps(exc.body()))
        return
    yield chunk({}, _finish(usage))
    if include_usage:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(usage).model_dump(),
        }
        yield ServerSentEvent(data=json.dumps(body))
    yield ServerSentEvent(data="[DONE]")
