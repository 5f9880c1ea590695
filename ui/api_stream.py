"""The answer stream: server-sent events parsed into typed events as they arrive."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import requests

from ui.api_errors import ApiError, BackendUnavailableError, JsonObject
from ui.api_models import Citation, parse_citation


@dataclass(frozen=True)
class StreamStart:
    chat_id: str
    user_message_id: str
    assistant_message_id: str


@dataclass(frozen=True)
class StreamCitations:
    """The passages the answer is grounded in (sent before its first token)."""

    citations: list[Citation]


@dataclass(frozen=True)
class StreamNotice:
    """Something the user should know about this answer, e.g. documents still being indexed."""

    message: str


@dataclass(frozen=True)
class StreamToken:
    text: str


@dataclass(frozen=True)
class StreamDone:
    message_id: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class StreamFailed:
    code: str
    message: str
    message_id: str | None


StreamEvent = StreamStart | StreamCitations | StreamNotice | StreamToken | StreamDone | StreamFailed


def _stream_event(event: str, data: JsonObject) -> StreamEvent | None:
    if event == "start":
        return StreamStart(
            chat_id=str(data["chat_id"]),
            user_message_id=str(data["user_message_id"]),
            assistant_message_id=str(data["assistant_message_id"]),
        )
    if event == "citations":
        return StreamCitations([parse_citation(c) for c in data["citations"]])
    if event == "notice":
        return StreamNotice(str(data["message"]))
    if event == "token":
        return StreamToken(text=str(data["text"]))
    if event == "done":
        usage = data.get("usage") or {}
        return StreamDone(
            message_id=str(data["message_id"]),
            model=str(data["model"]),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
    if event == "error":
        return StreamFailed(
            code=str(data.get("code", "model_error")),
            message=str(data.get("message", "The model failed to answer.")),
            message_id=data.get("message_id"),
        )
    return None  # an event this client does not know yet: skipped, not fatal


def iter_sse(chunks: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """Yield `(event, data)` pairs from raw server-sent-event bytes, as each event completes."""
    buffer = b""
    event, data_lines = "message", list[str]()
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8")
            if not line:
                if data_lines:
                    yield event, "\n".join(data_lines)
                event, data_lines = "message", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data_lines.append(value)
    if data_lines:
        yield event, "\n".join(data_lines)


def _decode_event(event: str, data: str) -> StreamEvent | None:
    try:
        return _stream_event(event, json.loads(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(f"The API sent a malformed {event!r} event ({exc!r}).", code="invalid_response") from exc


def stream_events(response: requests.Response) -> Iterator[StreamEvent]:
    """The typed events of an open SSE response, ending with `StreamDone` or `StreamFailed`."""
    with response:
        try:
            for event, data in iter_sse(response.iter_content(chunk_size=None)):
                parsed = _decode_event(event, data)
                if parsed is None:
                    continue
                yield parsed
                if isinstance(parsed, StreamDone | StreamFailed):
                    return
        except requests.RequestException as exc:
            raise BackendUnavailableError(
                "The connection to the Nimbus API was lost during the answer.", code="stream_lost"
            ) from exc
    raise ApiError("The answer stream ended without finishing.", code="stream_incomplete")
