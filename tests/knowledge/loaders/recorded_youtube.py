"""YouTube faked at the network boundary: a requests transport adapter that answers with recorded responses."""

from __future__ import annotations

import http
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "youtube"


@dataclass(frozen=True)
class Recorded:
    """One recorded answer: a fixture file (or literal body) with its status and content type."""

    file: str | None = None
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"


Route = Recorded | requests.RequestException


def video_routes(player: str, timedtext: str = "timedtext_en.xml") -> dict[str, Route]:
    """The three answers the library asks for: watch page, innertube player, timedtext captions."""
    return {
        "/watch": Recorded("watch.html"),
        "/youtubei/v1/player": Recorded(player, content_type="application/json; charset=UTF-8"),
        "/api/timedtext": Recorded(timedtext, content_type="text/xml; charset=UTF-8"),
    }


class RecordedYouTube(BaseAdapter):
    """Serves `routes` by URL path (404 otherwise) and records every request and the proxies it was sent with."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        super().__init__()
        self.routes = dict(routes)
        self.requests: list[requests.PreparedRequest] = []
        self.proxies: list[Mapping[str, str] | None] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self.requests.append(request)
        self.proxies.append(dict(proxies) if proxies else None)
        route = self.routes.get(urlsplit(request.url or "").path, Recorded(status=404, body=b"Not Found"))
        if isinstance(route, requests.RequestException):
            raise route
        response = requests.Response()
        response.status_code = route.status
        response.reason = http.HTTPStatus(route.status).phrase
        response.headers = CaseInsensitiveDict({"Content-Type": route.content_type})
        response._content = (FIXTURES / route.file).read_bytes() if route.file else route.body
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""

    def paths(self) -> list[tuple[str, str]]:
        """(method, path) of each request, in order."""
        return [(request.method or "", urlsplit(request.url or "").path) for request in self.requests]


@contextmanager
def recorded_youtube(routes: Mapping[str, Route]) -> Iterator[tuple[requests.Session, RecordedYouTube]]:
    """A session whose requests to https://www.youtube.com/ are answered by `routes`."""
    adapter = RecordedYouTube(routes)
    with requests.Session() as session:
        session.mount("https://www.youtube.com/", adapter)
        yield session, adapter
