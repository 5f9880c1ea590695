"""A small typed HTTP client for the Nimbus API; needs only `requests`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import requests

_T = TypeVar("_T")
JsonObject = dict[str, Any]


class ApiError(Exception):
    """The API answered with an error, or could not be used at all."""

    def __init__(self, message: str, *, code: str = "api_error", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class BackendUnavailableError(ApiError):
    """No connection to the API could be made, or it dropped mid-answer."""


class UnauthorizedError(ApiError):
    """The session token is missing, unknown or expired."""


class NotFoundError(ApiError):
    """The chat does not exist or belongs to another session."""


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ModelInfo:
    provider: str
    model: str
    ready: bool
    detail: str


@dataclass(frozen=True)
class Chat:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ChatPage:
    items: list[Chat]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Message:
    id: str
    role: Literal["user", "assistant"]
    content: str
    status: Literal["complete", "streaming", "interrupted", "error"]
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class ChatDetail:
    chat: Chat
    messages: list[Message]


@dataclass(frozen=True)
class StreamStart:
    chat_id: str
    user_message_id: str
    assistant_message_id: str


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


StreamEvent = StreamStart | StreamToken | StreamDone | StreamFailed


def _chat(data: JsonObject) -> Chat:
    return Chat(
        id=str(data["id"]),
        name=str(data["name"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def _message(data: JsonObject) -> Message:
    return Message(
        id=str(data["id"]),
        role=data["role"],
        content=str(data["content"]),
        status=data["status"],
        model=data.get("model"),
        prompt_tokens=data.get("prompt_tokens"),
        completion_tokens=data.get("completion_tokens"),
        error=data.get("error"),
        created_at=datetime.fromisoformat(data["created_at"]),
    )


def _stream_event(event: str, data: JsonObject) -> StreamEvent | None:
    if event == "start":
        return StreamStart(
            chat_id=str(data["chat_id"]),
            user_message_id=str(data["user_message_id"]),
            assistant_message_id=str(data["assistant_message_id"]),
        )
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
    return None


def _parsed(parse: Callable[[JsonObject], _T], data: Any) -> _T:
    """Apply `parse`, turning a response of the wrong shape into an `ApiError`."""
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(f"The API sent an unexpected response ({exc!r}).", code="invalid_response") from exc


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


def _raise_for_status(response: requests.Response) -> None:
    if response.ok:
        return
    code, message = "http_error", f"The API answered {response.status_code} {response.reason}."
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass  # not our error envelope (a proxy page, say): keep the status line
    error_class = {401: UnauthorizedError, 404: NotFoundError}.get(response.status_code, ApiError)
    raise error_class(message, code=code, status=response.status_code)


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
        _raise_for_status(response)
        return response

    def create_session(self) -> Session:
        """Get-or-create a session: the current token refreshed if still valid, else a fresh one."""
        data = self._request("POST", "/api/v1/sessions").json()
        session = _parsed(lambda d: Session(str(d["token"]), datetime.fromisoformat(d["expires_at"])), data)
        self.token = session.token
        return session

    def model(self) -> ModelInfo:
        """Which provider and model answer, and whether they are ready."""
        data = self._request("GET", "/api/v1/model").json()
        return _parsed(
            lambda d: ModelInfo(str(d["provider"]), str(d["model"]), bool(d["ready"]), str(d["detail"])), data
        )

    def list_chats(self, *, limit: int = 50, offset: int = 0) -> ChatPage:
        """This session's chats, most recent first."""
        data = self._request("GET", "/api/v1/chats", params={"limit": limit, "offset": offset}).json()
        return _parsed(
            lambda d: ChatPage([_chat(c) for c in d["items"]], int(d["total"]), int(d["limit"]), int(d["offset"])),
            data,
        )

    def create_chat(self, name: str | None = None) -> Chat:
        """Start an empty chat."""
        return _parsed(_chat, self._request("POST", "/api/v1/chats", json_body={"name": name}).json())

    def get_chat(self, chat_id: str) -> ChatDetail:
        """A chat with its messages, oldest first."""
        data = self._request("GET", f"/api/v1/chats/{chat_id}").json()
        return _parsed(lambda d: ChatDetail(_chat(d), [_message(m) for m in d["messages"]]), data)

    def rename_chat(self, chat_id: str, name: str) -> Chat:
        """Give a chat a new name."""
        return _parsed(_chat, self._request("PATCH", f"/api/v1/chats/{chat_id}", json_body={"name": name}).json())

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
        return _events(response)


def _decode_event(event: str, data: str) -> StreamEvent | None:
    try:
        return _stream_event(event, json.loads(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(f"The API sent a malformed {event!r} event ({exc!r}).", code="invalid_response") from exc


def _events(response: requests.Response) -> Iterator[StreamEvent]:
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
