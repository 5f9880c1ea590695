"""A small typed HTTP client for the Nimbus API; needs only `requests`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, BinaryIO, Literal

import requests

from ui.api_errors import ApiError, BackendUnavailableError, JsonObject, parsed, raise_for_status
from ui.api_models import (
    Chat,
    ChatDetail,
    ChatPage,
    Document,
    DocumentPage,
    ModelInfo,
    Session,
    parse_chat,
    parse_document,
    parse_message,
)
from ui.api_stream import StreamEvent, stream_events

DeleteOutcome = Literal["deleted", "cancelled"]


class NimbusClient:
    """Calls the Nimbus HTTP API with a bearer session token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        stream_timeout: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self._http = requests.Session()

    def __enter__(self) -> NimbusClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def _request(
        self, method: str, path: str, *, json_body: JsonObject | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        kwargs.setdefault("timeout", (5.0, self.timeout))
        try:
            response = self._http.request(method, f"{self.base_url}{path}", json=json_body, headers=headers, **kwargs)
        except requests.ConnectionError as exc:
            raise BackendUnavailableError(
                f"Cannot reach the Nimbus API at {self.base_url}.", code="unreachable"
            ) from exc
        except requests.Timeout as exc:
            raise ApiError(f"The Nimbus API at {self.base_url} did not answer in time.", code="timeout") from exc
        raise_for_status(response)
        return response

    def create_session(self) -> Session:
        """Get-or-create a session: the current token refreshed if still valid, else a fresh one."""
        data = self._request("POST", "/api/v1/sessions").json()
        session = parsed(lambda d: Session(str(d["token"]), datetime.fromisoformat(d["expires_at"])), data)
        self.token = session.token
        return session

    def model(self) -> ModelInfo:
        """Which provider and model answer, and whether they are ready."""
        data = self._request("GET", "/api/v1/model").json()
        return parsed(
            lambda d: ModelInfo(str(d["provider"]), str(d["model"]), bool(d["ready"]), str(d["detail"])), data
        )

    def list_chats(self, *, limit: int = 50, offset: int = 0) -> ChatPage:
        """This session's chats, most recent first."""
        data = self._request("GET", "/api/v1/chats", params={"limit": limit, "offset": offset}).json()
        return parsed(
            lambda d: ChatPage([parse_chat(c) for c in d["items"]], int(d["total"]), int(d["limit"]), int(d["offset"])),
            data,
        )

    def create_chat(self, name: str | None = None) -> Chat:
        """Start an empty chat."""
        return parsed(parse_chat, self._request("POST", "/api/v1/chats", json_body={"name": name}).json())

    def get_chat(self, chat_id: str) -> ChatDetail:
        """A chat with its messages (and their citations), oldest first."""
        data = self._request("GET", f"/api/v1/chats/{chat_id}").json()
        return parsed(lambda d: ChatDetail(parse_chat(d), [parse_message(m) for m in d["messages"]]), data)

    def rename_chat(self, chat_id: str, name: str) -> Chat:
        """Give a chat a new name."""
        return parsed(parse_chat, self._request("PATCH", f"/api/v1/chats/{chat_id}", json_body={"name": name}).json())

    def delete_chat(self, chat_id: str) -> None:
        """Delete a chat and its messages."""
        self._request("DELETE", f"/api/v1/chats/{chat_id}")

    def export_chat(self, chat_id: str, fmt: Literal["markdown", "json"] = "markdown") -> str:
        """The chat as a Markdown or JSON document."""
        response = self._request("GET", f"/api/v1/chats/{chat_id}/export", params={"format": fmt})
        response.encoding = "utf-8"
        return response.text

    def send_message(self, chat_id: str, content: str) -> Iterator[StreamEvent]:
        """Post a user message; iterate the result for the answer's events as they arrive."""
        return self._stream(f"/api/v1/chats/{chat_id}/messages", {"content": content})

    def regenerate(self, chat_id: str) -> Iterator[StreamEvent]:
        """Answer the last user message again; iterate the result for the new answer's events."""
        return self._stream(f"/api/v1/chats/{chat_id}/regenerate", None)

    def _stream(self, path: str, body: JsonObject | None) -> Iterator[StreamEvent]:
        # The request is made here, so HTTP errors (404, 413, 422) raise before any iteration.
        response = self._request("POST", path, json_body=body, stream=True, timeout=(5.0, self.stream_timeout))
        return stream_events(response)

    def upload_document(self, name: str, content: bytes | BinaryIO, chat_id: str | None = None) -> Document:
        """Upload a file to the library, and to `chat_id` when given; it is indexed in the background."""
        form = {"chat_id": chat_id} if chat_id else None
        response = self._request(
            "POST", "/api/v1/documents", files={"file": (name, content)}, data=form, timeout=(5.0, self.stream_timeout)
        )
        return parsed(parse_document, response.json())

    def add_youtube(self, url: str, chat_id: str | None = None) -> Document:
        """Add a YouTube video by link or id; its transcript is indexed in the background."""
        return self._add_link("/api/v1/documents/youtube", url, chat_id)

    def add_web_page(self, url: str, chat_id: str | None = None) -> Document:
        """Add a web page; it is fetched and indexed in the background."""
        return self._add_link("/api/v1/documents/url", url, chat_id)

    def _add_link(self, path: str, url: str, chat_id: str | None) -> Document:
        return parsed(parse_document, self._request("POST", path, json_body={"url": url, "chat_id": chat_id}).json())

    def list_documents(self) -> DocumentPage:
        """The session's documents with their indexing status, newest first."""
        data = self._request("GET", "/api/v1/documents").json()
        return parsed(lambda d: DocumentPage([parse_document(i) for i in d["items"]], int(d["total"])), data)

    def get_document(self, document_id: str) -> Document:
        """One document: status, progress, pages, chunks and error."""
        return parsed(parse_document, self._request("GET", f"/api/v1/documents/{document_id}").json())

    def delete_document(self, document_id: str) -> DeleteOutcome:
        """Delete a document; one still being indexed is cancelled first and removed shortly after."""
        response = self._request("DELETE", f"/api/v1/documents/{document_id}")
        return "cancelled" if response.status_code == 202 else "deleted"

    def document_file(self, document_id: str) -> bytes:
        """The original uploaded file."""
        return self._request("GET", f"/api/v1/documents/{document_id}/file", timeout=(5.0, self.stream_timeout)).content

    def chat_documents(self, chat_id: str) -> list[str]:
        """The ids of the documents a chat answers from (empty: the whole library)."""
        data = self._request("GET", f"/api/v1/chats/{chat_id}/documents").json()
        return parsed(lambda d: [str(i) for i in d["document_ids"]], data)

    def select_chat_documents(self, chat_id: str, document_ids: list[str]) -> list[str]:
        """Choose the documents a chat answers from (an empty list: the whole library)."""
        body = {"document_ids": document_ids}
        data = self._request("PUT", f"/api/v1/chats/{chat_id}/documents", json_body=body).json()
        return parsed(lambda d: [str(i) for i in d["document_ids"]], data)
