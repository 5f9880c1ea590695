"""A real uvicorn server on 127.0.0.1 in a background thread: the fakes and the live API all use it."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

START_SECONDS = 30.0


class ThreadedServer:
    """Serves `app` on an ephemeral port until `stop()`; usable as a context manager."""

    def __init__(self, app: ASGIApp, name: str, *, lifespan: str = "auto", graceful_seconds: float = 5.0) -> None:
        self._config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,
            lifespan=lifespan,  # type: ignore[arg-type]
            ws="none",
            timeout_graceful_shutdown=int(graceful_seconds),
        )
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        """Bind, serve in a thread, and return once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        server = self._server = uvicorn.Server(self._config)

        def serve() -> None:
            with sock:
                server.run(sockets=[sock])

        self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._server = self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
