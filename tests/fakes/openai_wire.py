"""The OpenAI chat-completions wire format: completion objects, stream chunks and error bodies."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Completion:
    """One answer, rendered as a `chat.completion` object or as `chat.completion.chunk` events."""

    id: str
    model: str
    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    created: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def of(cls, pieces: list[str], finish: str, usage: tuple[int, int] | None, body: dict[str, Any]) -> Completion:
        """The answer to request `body`, cut at its `max_tokens` pieces; usage defaults to word counts."""
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"
        messages = body.get("messages") or []
        words = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
        prompt, completion = usage or (words, len(pieces))
        model = str(body.get("model") or "fake-model")
        return cls(f"chatcmpl-fake-{time.monotonic_ns()}", model, pieces, finish, prompt, completion)

    def _usage(self) -> dict[str, int]:
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }

    def _envelope(self, kind: str) -> dict[str, Any]:
        envelope = {"id": self.id, "object": kind, "created": self.created, "model": self.model}
        return envelope | {"system_fingerprint": "fp_fake"}

    def chunk(self, delta: dict[str, str], finish: str | None, usage: bool) -> dict[str, Any]:
        """One `chat.completion.chunk` (with `usage: null` when the client asked for usage)."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra: dict[str, Any] = {"usage": None} if usage else {}
        return self._envelope("chat.completion.chunk") | {"choices": [choice]} | extra

    def usage_chunk(self) -> dict[str, Any]:
        """The extra last chunk `stream_options.include_usage` asks for: no choices, only usage."""
        return self._envelope("chat.completion.chunk") | {"choices": [], "usage": self._usage()}

    def full(self) -> dict[str, Any]:
        """The non-streamed `chat.completion` object."""
        message = {"role": "assistant", "content": "".join(self.pieces), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
        return self._envelope("chat.completion") | {"choices": [choice], "usage": self._usage()}


def sse_event(payload: dict[str, Any]) -> str:
    """One server-sent event carrying `payload` as JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def last_user_message(body: dict[str, Any]) -> str:
    """The content of the last user message of a request body."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def error_body(code: int) -> dict[str, Any]:
    """An OpenAI-style error body for HTTP `code`."""
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}
    kind = kinds.get(code, "server_error")
    return {"error": {"message": f"fake status {code}", "type": kind, "param": None, "code": kind}}
