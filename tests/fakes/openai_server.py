"""A real HTTP server speaking the OpenAI chat-completions protocol, scripted per request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai_wire import Completion, error_body, last_user_message, sse_event
from tests.fakes.scripted_server import ScriptedServer


@dataclass(frozen=True)
class Reply:
    """Answer `text` (or exactly `chunks`, joined) in stream or non-stream form."""

    text: str = ""
    chunks: Sequence[str] | None = None
    delay_between_chunks: float = 0.0
    usage: tuple[int, int] | None = None
    finish_reason: str = "stop"

    def pieces(self) -> list[str]:
        """The streamed pieces: `chunks` as given, else `text` split after each word."""
        if self.chunks is not None:
            return list(self.chunks)
        return re.findall(r"\s*\S+\s*", self.text) or ([self.text] if self.text else [])


@dataclass(frozen=True)
class Echo:
    """Answer `prefix` + the last user message (the default behaviour)."""

    prefix: str = "Echo: "
    delay_between_chunks: float = 0.0


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error status (e.g. 429 with `Retry-After`, 500)."""

    code: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Sleep `seconds` before sending anything, then answer `then`."""

    seconds: float
    then: Reply = field(default_factory=lambda: Reply("late"))


@dataclass(frozen=True)
class HangMidStream:
    """Stream `text_before`, stall `seconds`, then finish with `text_after`."""

    text_before: str
    seconds: float
    text_after: str = ""


Behaviour = Reply | Echo | Status | Hang | HangMidStream


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAI(ScriptedServer[Behaviour, RecordedRequest]):
    """OpenAI-compatible server on 127.0.0.1 (ephemeral port) running in a background thread."""

    thread_name = "fake-openai"

    def __init__(self, *, models: Sequence[str] = ("fake-model",)) -> None:
        super().__init__(Echo())
        self.models = list(models)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Received chat-completions requests, in order."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Forget scripted behaviours and recorded requests, restore the default, end pending hangs."""
        super().reset()
        self._release_hangs()

    def close(self) -> None:
        """End pending hangs, stop the server and wait for its thread."""
        self._release_hangs()
        super().close()

    def _release_hangs(self) -> None:
        """End every pending pause early (from any thread)."""
        loop, release = self._loop, self._release
        if loop is not None and release is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(release.set)

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._release is None or self._release.is_set():
            self._loop, self._release = asyncio.get_running_loop(), asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), seconds)

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        body: dict[str, Any] = json.loads(raw) if raw else {}
        self.requests.append(
            RecordedRequest(request.method, request.url.path, request.url.query, dict(request.headers), body)
        )
        return body

    def _app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/openai/deployments/{deployment}/chat/completions", self._chat, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _models(self, request: Request) -> Response:
        await self._record(request)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        behaviour = self._next()
        if isinstance(behaviour, Hang):
            await self._pause(behaviour.seconds)
            behaviour = behaviour.then
        if isinstance(behaviour, Status):
            return JSONResponse(behaviour.body or error_body(behaviour.code), behaviour.code, headers=behaviour.headers)
        if isinstance(behaviour, Echo):
            text, delay = behaviour.prefix + last_user_message(body), behaviour.delay_between_chunks
            behaviour = Reply(text, delay_between_chunks=delay)
        stall: tuple[int, float] | None = None
        if isinstance(behaviour, HangMidStream):
            before = Reply(behaviour.text_before).pieces()
            stall = (len(before), behaviour.seconds)
            behaviour = Reply(chunks=before + Reply(behaviour.text_after).pieces())
        completion = Completion.of(behaviour.pieces(), behaviour.finish_reason, behaviour.usage, body)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._sse(completion, behaviour.delay_between_chunks, stall, include_usage)
            return StreamingResponse(events, media_type="text/event-stream")
        for _ in completion.pieces:
            await self._pause(behaviour.delay_between_chunks)
        if stall:
            await self._pause(stall[1])
        return JSONResponse(completion.full())

    async def _sse(
        self, completion: Completion, delay: float, stall: tuple[int, float] | None, usage: bool
    ) -> AsyncIterator[str]:
        yield sse_event(completion.chunk({"role": "assistant", "content": ""}, None, usage))
        for index, piece in enumerate(completion.pieces):
            if stall and index == stall[0]:
                await self._pause(stall[1])
            elif index:
                await self._pause(delay)
            yield sse_event(completion.chunk({"content": piece}, None, usage))
        if stall and stall[0] >= len(completion.pieces):
            await self._pause(stall[1])
        yield sse_event(completion.chunk({}, completion.finish_reason, usage))
        if usage:
            yield sse_event(completion.usage_chunk())
        yield "data: [DONE]\n\n"
