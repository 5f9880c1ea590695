"""A real HTTP server speaking the OpenAI /v1/embeddings protocol, with deterministic vectors."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.scripted_server import ScriptedServer


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic vector for `text`, deliberately not unit length (length 3)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    scaled: list[float] = (3 * vector / np.linalg.norm(vector)).tolist()
    return scaled


@dataclass(frozen=True)
class Vectors:
    """Answer with `dimensions`-long vectors (the `dimensions` request field wins unless `ignore_dimensions`)."""

    dimensions: int = 384
    ignore_dimensions: bool = False
    reject_dimensions: bool = False  # answer 400 when the request carries `dimensions`
    reverse: bool = False  # list the results in reverse order (clients must sort by `index`)
    delay_seconds: float = 0.0  # answer this much later (a slow or distant provider)


@dataclass(frozen=True)
class Failure:
    """Answer with an HTTP error status and an OpenAI-style error body."""

    code: int
    message: str = "the embedding backend failed"


Behaviour = Vectors | Failure


class FakeEmbeddings(ScriptedServer[Behaviour, dict[str, Any]]):
    """OpenAI-compatible embeddings server on 127.0.0.1 (ephemeral port) in a background thread."""

    thread_name = "fake-embeddings"

    def __init__(self) -> None:
        super().__init__(Vectors())

    def _app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/embeddings", self._embeddings, methods=["POST"])])

    async def _embeddings(self, request: Request) -> Response:
        body: dict[str, Any] = json.loads(await request.body())
        self.requests.append(body)
        behaviour = self._next()
        if isinstance(behaviour, Vectors) and behaviour.delay_seconds:
            await asyncio.sleep(behaviour.delay_seconds)
        if isinstance(behaviour, Failure):
            error = {"message": behaviour.message, "type": "server_error", "param": None, "code": None}
            return JSONResponse({"error": error}, behaviour.code)
        if behaviour.reject_dimensions and "dimensions" in body:
            error = {"message": "This model does not support specifying dimensions.", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, 400)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        asked = body.get("dimensions")
        dimensions = behaviour.dimensions if behaviour.ignore_dimensions or asked is None else int(asked)
        data = [
            {"object": "embedding", "index": index, "embedding": fake_vector(text, dimensions)}
            for index, text in enumerate(texts)
        ]
        if behaviour.reverse:
            data.reverse()
        tokens = sum(len(text.split()) for text in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})
