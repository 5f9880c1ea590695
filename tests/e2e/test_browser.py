"""The real UI in a real browser: a streamed answer, then a reload that restores the chat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui.api_client import NimbusClient

from tests.e2e.ui_process import browser_page, running_ui
from tests.fakes.openai_server import Reply

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def ui_url(live_api: Any, tmp_path: Path) -> Iterator[str]:
    with running_ui(live_api.url, tmp_path) as url:
        yield url


@pytest.fixture
def page(ui_url: str) -> Iterator[Any]:
    with browser_page(ui_url) as opened:
        yield opened


def assistant_text(page: Any) -> str:
    text: str = page.get_by_test_id("stChatMessage").last.inner_text()
    return text


def test_answer_streams_and_chat_survives_reload(page: Any, fake_openai: Any, live_api: Any) -> None:
    from playwright.sync_api import expect

    fake_openai.script(Reply(chunks=["Cumulus ", "clouds ", "look ", "like ", "cotton."], delay_between_chunks=0.4))
    page.goto("/")
    expect(page.get_by_text("Ask anything to start a conversation.")).to_be_visible()

    page.get_by_test_id("stChatInputTextArea").fill("What do cumulus clouds look like?")
    page.get_by_test_id("stChatInputTextArea").press("Enter")

    # Part of the answer is on screen before the model has finished: it is streamed, not sent whole.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stChatMessage]')].some(m => m.innerText.includes('Cumulus'))"
    )
    assert "cotton." not in assistant_text(page)
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text("Cumulus clouds look like cotton.")

    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert "nimbus_session" in cookies, "the session token was not saved in a cookie"
    with NimbusClient(live_api.url, cookies["nimbus_session"]) as api:
        (chat,) = api.list_chats().items
    assert chat.name != "New chat"
    expect(page).to_have_url(f"/?chat={chat.id}")

    page.reload()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name=chat.name)).to_be_visible()
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2)
    expect(messages.first).to_contain_text("What do cumulus clouds look like?")
    expect(messages.last).to_contain_text("Cumulus clouds look like cotton.")

    page.goto("/")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
    sidebar.get_by_role("button", name=chat.name).click()
    expect(page).to_have_url(f"/?chat={chat.id}")
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text("Cumulus clouds look like cotton.")
