"""A real HTTP server on 127.0.0.1 serving scripted pages, recording every request it receives."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Page:
    """An answer: status, headers and body; `trickle_seconds` sends the body a byte at a time with pauses."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    trickle_seconds: float = 0.0


@dataclass(frozen=True)
class Hit:
    """A request the server received."""

    path: str
    host: str | None


class PageServer:
    """Serves `routes` by path (404 otherwise) on an ephemeral port; use as a context manager."""

    def __init__(self, routes: dict[str, Page] | None = None) -> None:
        self.routes: dict[str, Page] = dict(routes or {})
        self.hits: list[Hit] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The address of `path` on this server."""
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(Hit(self.path, self.headers.get("Host")))
                page = server.routes.get(self.path, Page(b"not here", status=404, content_type="text/plain"))
                try:
                    self._answer(page)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (size or time limit): expected

            def _answer(self, page: Page) -> None:
                self.send_response(page.status)
                if page.content_type is not None:
                    self.send_header("Content-Type", page.content_type)
                if page.send_length:
                    self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not page.trickle_seconds:
                    self.wfile.write(page.body)
                    return
                for index in range(len(page.body)):
                    self.wfile.write(page.body[index : index + 1])
                    self.wfile.flush()
                    if server._release.wait(page.trickle_seconds):
                        return

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        return Handler
