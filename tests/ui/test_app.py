"""The Streamlit page, run by AppTest against the real Nimbus API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from ui.api_client import NimbusClient
from ui.api_errors import NotFoundError

from tests.fakes.openai_server import Reply
from tests.ui.helpers import texts
from tests.ui.test_api_client import MODEL_DOWN, closed_port_url


def chat_buttons(app: AppTest) -> list[str]:
    return [b.label for b in app.sidebar.button if b.key and b.key.startswith("chat-")]


def test_first_load_opens_a_session_and_shows_the_model(loaded: AppTest, api: NimbusClient) -> None:
    model = api.model()
    assert any(model.provider in c and model.model in c for c in texts(loaded.sidebar.caption))
    assert texts(loaded.title) == ["New chat"]
    assert chat_buttons(loaded) == []


def test_sending_a_message_shows_the_answer_and_names_the_chat(
    loaded: AppTest, api: NimbusClient, fake_openai: Any
) -> None:
    fake_openai.script(Reply(chunks=["Stratus ", "clouds ", "are ", "flat."]))

    loaded.chat_input[0].set_value("Describe stratus clouds").run()

    assert not loaded.exception
    conversation = [(m.name, m.markdown[0].value) for m in loaded.chat_message]
    assert conversation == [("user", "Describe stratus clouds"), ("assistant", "Stratus clouds are flat.")]
    (chat,) = api.list_chats().items
    assert loaded.query_params["chat"] == chat.id
    assert chat_buttons(loaded) == [chat.name]
    assert texts(loaded.title) == [chat.name]


def test_unreachable_api_shows_a_friendly_error(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIMBUS_API_URL", closed_port_url())

    app.run()

    assert not app.exception
    (error,) = texts(app.error)
    assert error.startswith("Cannot reach the Nimbus API at http://127.0.0.1:")
    assert "nimbus serve" in texts(app.info)[0]
    assert [b.label for b in app.button] == ["Retry"]


def test_sidebar_lists_chats_and_opens_the_one_clicked(loaded: AppTest, api: NimbusClient) -> None:
    older = api.create_chat("Packing list")
    newer = api.create_chat("Recipes")

    loaded.run()
    assert chat_buttons(loaded) == ["Recipes", "Packing list"]
    loaded.button(key=f"chat-{older.id}").click().run()

    assert loaded.query_params["chat"] == older.id
    assert texts(loaded.title) == ["Packing list"]
    assert newer.id != older.id


def test_renaming_the_open_chat_updates_sidebar_and_api(loaded: AppTest, api: NimbusClient) -> None:
    chat = api.create_chat("Draft")
    loaded.query_params["chat"] = chat.id
    loaded.run()

    loaded.sidebar.text_input[0].input("Final name")
    loaded.button(key="rename-chat").click().run()

    assert not loaded.exception
    assert chat_buttons(loaded) == ["Final name"]
    assert api.get_chat(chat.id).chat.name == "Final name"


def test_deleting_the_open_chat_removes_it(loaded: AppTest, api: NimbusClient) -> None:
    kept = api.create_chat("Keep me")
    doomed = api.create_chat("Delete me")
    loaded.query_params["chat"] = doomed.id
    loaded.run()

    loaded.button(key="delete-chat").click().run()

    assert not loaded.exception
    assert "chat" not in loaded.query_params
    assert chat_buttons(loaded) == ["Keep me"]
    with pytest.raises(NotFoundError):
        api.get_chat(doomed.id)
    assert api.get_chat(kept.id).chat.name == "Keep me"


def test_model_failure_shows_its_message_and_keeps_the_question(
    loaded: AppTest, api: NimbusClient, fake_openai: Any
) -> None:
    fake_openai.script(*MODEL_DOWN)

    loaded.chat_input[0].set_value("Will it rain?").run()

    assert not loaded.exception
    (chat,) = api.list_chats().items
    stored = api.get_chat(chat.id).messages
    assert stored[-1].status == "error"
    assert stored[-1].error
    assert loaded.chat_message[0].name == "user"
    assert loaded.chat_message[0].markdown[0].value == "Will it rain?"
    assert stored[-1].error in texts(loaded.error)


def test_try_again_replaces_a_failed_answer(loaded: AppTest, api: NimbusClient, fake_openai: Any) -> None:
    fake_openai.script(*MODEL_DOWN)
    loaded.chat_input[0].set_value("Will it rain?").run()
    assert loaded.button(key="regenerate").label == "Try again"
    fake_openai.reset()
    fake_openai.script(Reply("Sunny all day."))

    loaded.button(key="regenerate").click().run()

    assert not loaded.exception
    assert not loaded.error
    assert [m.markdown[0].value for m in loaded.chat_message] == ["Will it rain?", "Sunny all day."]
    (chat,) = api.list_chats().items
    assert api.get_chat(chat.id).messages[-1].status == "complete"


def test_unknown_chat_in_the_url_starts_a_new_chat(app: AppTest) -> None:
    app.query_params["chat"] = str(uuid.uuid4())

    app.run()

    assert not app.exception
    assert "chat" not in app.query_params
    assert texts(app.title) == ["New chat"]


def test_rejected_token_is_replaced_by_a_new_session(app: AppTest) -> None:
    app.session_state["token"] = "expired-or-forged"

    app.run()

    assert not app.exception
    assert app.session_state["token"] != "expired-or-forged"
    assert texts(app.title) == ["New chat"]
