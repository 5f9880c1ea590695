"""The plumbing shared by the fake provider servers: a real HTTP server in a background thread that answers
each request with the next scripted behaviour, then with its default."""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType
from typing import Generic, Self, TypeVar

from starlette.applications import Starlette

from tests.fakes.threaded_server import ThreadedServer

BehaviourT = TypeVar("BehaviourT")
RequestT = TypeVar("RequestT")


class ScriptedServer(Generic[BehaviourT, RequestT]):
    """Serves `_app()` on 127.0.0.1 (ephemeral port); subclasses define the protocol and what a behaviour does."""

    thread_name = "fake-server"

    def __init__(self, default: BehaviourT) -> None:
        self._initial_default = default
        self.default = default
        self.requests: list[RequestT] = []
        self._script: deque[BehaviourT] = deque()
        self._lock = threading.Lock()
        self._server: ThreadedServer | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """Root URL, e.g. `http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"{self.url}/v1"

    def script(self, *behaviours: BehaviourT) -> None:
        """Answer the next requests with these behaviours, one each, in order, then with `default`."""
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        """Forget scripted behaviours and recorded requests; restore the default."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.default = self._initial_default

    def start(self) -> Self:
        """Bind an ephemeral port and serve until `close()`."""
        self._server = ThreadedServer(self._app(), self.thread_name, lifespan="off", graceful_seconds=1).start()
        self._port = self._server.port
        return self

    def close(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _next(self) -> BehaviourT:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _app(self) -> Starlette:
        raise NotImplementedError
