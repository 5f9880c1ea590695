"""Turn events as Server-Sent Events: `start`, `token`…, then `done` or `error`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent

from nimbus.chat.conversation import DoneEvent, ErrorEvent, SourcesEvent, TokenEvent, TurnEvent, TurnStarted

PING_SECONDS = 15  # keeps proxies from closing the stream while a local model is still reading the prompt


def to_sse(event: TurnEvent) -> list[ServerSentEvent]:
    """The wire events of a turn event; `data` is always a single JSON line."""
    if isinstance(event, SourcesEvent):
        events = [_citations(event)]
        if event.notice:
            events.append(ServerSentEvent(event="notice", data=json.dumps({"message": event.notice})))
        return events
    return [_single(event)]


def _citations(event: SourcesEvent) -> ServerSentEvent:
    citations = [citation.model_dump(mode="json") for citation in event.citations]
    return ServerSentEvent(event="citations", data=json.dumps({"citations": citations}, ensure_ascii=False))


def _single(event: TokenEvent | TurnStarted | DoneEvent | ErrorEvent) -> ServerSentEvent:
    if isinstance(event, TokenEvent):
        return ServerSentEvent(event="token", data=json.dumps({"text": event.text}, ensure_ascii=False))
    if isinstance(event, TurnStarted):
        payload = {
            "chat_id": str(event.chat_id),
            "user_message_id": str(event.user_message_id),
            "assistant_message_id": str(event.assistant_message_id),
        }
        return ServerSentEvent(event="start", data=json.dumps(payload))
    if isinstance(event, DoneEvent):
        message = event.message
        done = {
            "message_id": str(message.id),
            "model": message.model,
            "usage": {"prompt_tokens": message.prompt_tokens, "completion_tokens": message.completion_tokens},
        }
        return ServerSentEvent(event="done", data=json.dumps(done))
    failure = {"code": event.error.code, "message": event.error.message, "message_id": str(event.message_id)}
    return ServerSentEvent(event="error", data=json.dumps(failure, ensure_ascii=False))


async def _encode(events: AsyncIterator[TurnEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        for wire in to_sse(event):
            yield wire


def event_stream(events: AsyncIterator[TurnEvent]) -> EventSourceResponse:
    """An SSE response over turn events (nginx buffering disabled for token-by-token delivery)."""
    return EventSourceResponse(
        _encode(events), ping=PING_SECONDS, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}
    )
