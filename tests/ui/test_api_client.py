"""The UI's HTTP client against the real Nimbus API: sessions, chats, answers and errors."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from ui.api_client import NimbusClient
from ui.api_errors import ApiError, BackendUnavailableError, NotFoundError, UnauthorizedError
from ui.api_stream import StreamDone, StreamEvent, StreamFailed, StreamStart, StreamToken

from tests.fakes.openai_server import Reply, Status

# Enough failures to outlast any retries the server makes before giving up on the model.
MODEL_DOWN = [Status(500)] * 6


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def answer_text(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, StreamToken))


def test_session_token_is_kept_while_valid(live_api: Any) -> None:
    with NimbusClient(live_api.url) as first:
        token = first.create_session().token
    with NimbusClient(live_api.url, token) as again:
        assert again.create_session().token == token


def test_unknown_token_gets_a_fresh_session(live_api: Any) -> None:
    with NimbusClient(live_api.url, "not-a-real-token") as stale:
        session = stale.create_session()
    assert session.token != "not-a-real-token"
    assert stale.token == session.token


def test_requests_without_a_valid_session_are_unauthorized(live_api: Any) -> None:
    with NimbusClient(live_api.url, "not-a-real-token") as stale, pytest.raises(UnauthorizedError) as info:
        stale.list_chats()
    assert info.value.status == 401


def test_model_names_provider_and_model(client: NimbusClient) -> None:
    model = client.model()
    assert model.provider in {"local", "openai"}
    assert model.model


def test_chat_can_be_created_listed_renamed_and_deleted(client: NimbusClient) -> None:
    chat = client.create_chat()
    assert chat.name == "New chat"
    assert [c.id for c in client.list_chats().items] == [chat.id]

    renamed = client.rename_chat(chat.id, "Holiday plans")
    assert renamed.name == "Holiday plans"
    assert client.get_chat(chat.id).chat.name == "Holiday plans"

    client.delete_chat(chat.id)
    with pytest.raises(NotFoundError):
        client.get_chat(chat.id)
    assert client.list_chats().total == 0


def test_chat_list_is_paginated_most_recent_first(client: NimbusClient) -> None:
    created = [client.create_chat(f"chat {n}").id for n in range(3)]
    page = client.list_chats(limit=2, offset=0)
    assert (page.total, page.limit, len(page.items)) == (3, 2, 2)
    rest = client.list_chats(limit=2, offset=2)
    assert [c.id for c in page.items + rest.items] == created[::-1]


def test_another_sessions_chat_is_not_found(client: NimbusClient, live_api: Any) -> None:
    chat = client.create_chat("Mine")
    with NimbusClient(live_api.url) as stranger:
        stranger.create_session()
        with pytest.raises(NotFoundError):
            stranger.get_chat(chat.id)
        with pytest.raises(NotFoundError):
            stranger.delete_chat(chat.id)
    assert client.get_chat(chat.id).chat.name == "Mine"


def test_unknown_chat_is_not_found(client: NimbusClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_chat(str(uuid.uuid4()))
    assert info.value.status == 404


def test_message_answer_streams_in_order_and_is_stored(client: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(Reply(chunks=["Cirrus ", "clouds ", "are ", "wispy."]))
    chat = client.create_chat()

    events = list(client.send_message(chat.id, "What are cirrus clouds?"))

    start, done = events[0], events[-1]
    assert isinstance(start, StreamStart)
    assert isinstance(done, StreamDone)
    assert start.chat_id == chat.id
    assert done.message_id == start.assistant_message_id
    assert answer_text(events) == "Cirrus clouds are wispy."
    messages = client.get_chat(chat.id).messages
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "What are cirrus clouds?", "complete"),
        ("assistant", "Cirrus clouds are wispy.", "complete"),
    ]


def test_first_message_names_the_chat(client: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(Reply("Sure."))
    chat = client.create_chat()
    list(client.send_message(chat.id, "Plan a trip to Lisbon"))
    assert client.get_chat(chat.id).chat.name not in {"", "New chat"}


def test_model_failure_ends_stream_with_error_and_keeps_user_message(client: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(*MODEL_DOWN)
    chat = client.create_chat()

    events = list(client.send_message(chat.id, "Are you there?"))

    failure = events[-1]
    assert isinstance(failure, StreamFailed)
    assert failure.message
    messages = client.get_chat(chat.id).messages
    assert (messages[0].role, messages[0].content) == ("user", "Are you there?")
    assert messages[-1].status == "error"


def test_regenerate_streams_a_new_answer(client: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(Reply("First try."), Reply("Second try."))
    chat = client.create_chat()
    list(client.send_message(chat.id, "Say something"))

    events = list(client.regenerate(chat.id))

    assert isinstance(events[-1], StreamDone)
    assert answer_text(events) == "Second try."
    assert client.get_chat(chat.id).messages[-1].content == "Second try."


def test_empty_message_is_rejected(client: NimbusClient) -> None:
    chat = client.create_chat()
    with pytest.raises(ApiError) as info:
        client.send_message(chat.id, "")
    assert info.value.status == 422


def test_oversized_message_is_rejected(client: NimbusClient) -> None:
    chat = client.create_chat()
    with pytest.raises(ApiError) as info:
        client.send_message(chat.id, "x" * 32_001)
    assert info.value.status == 413
    assert client.get_chat(chat.id).messages == []


def test_export_as_markdown_contains_the_conversation(client: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(Reply("Nimbostratus brings steady rain."))
    chat = client.create_chat()
    list(client.send_message(chat.id, "Which cloud brings rain?"))

    markdown = client.export_chat(chat.id, "markdown")

    assert "Which cloud brings rain?" in markdown
    assert "Nimbostratus brings steady rain." in markdown


def test_unreachable_api_raises_backend_unavailable() -> None:
    with NimbusClient(closed_port_url()) as client, pytest.raises(BackendUnavailableError) as info:
        client.create_session()
    assert "Cannot reach the Nimbus API" in info.value.message
