"""The real UI in a real browser: a streamed answer, then a reload that restores the chat."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from ui.api_client import NimbusClient

from tests.fakes.openai_server import Reply

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
APP_PATH = Path(__file__).resolve().parents[2] / "ui" / "app.py"
TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer on {url} within {timeout}s")


@pytest.fixture
def ui_url(live_api: Any, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = os.environ | {"NIMBUS_API_URL": live_api.url}
    log = tmp_path / "streamlit.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        # The process group is the one started above; ending it leaves no stray children behind.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture
def page(ui_url: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=ui_url)
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


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
