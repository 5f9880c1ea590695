"""The real UI for browser tests: `streamlit run ui/app.py` in its own process group, and headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

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


@contextmanager
def running_ui(api_url: str, workdir: Path) -> Iterator[str]:
    """Start the Streamlit UI against `api_url`; yield its URL; stop it and its children."""
    port = free_port()
    command = [
        sys.executable, "-m", "ui",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = os.environ | {"NIMBUS_API_URL": api_url, "PYTHONPATH": str(APP_PATH.parents[1])}
    log = workdir / "streamlit.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
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


@contextmanager
def browser_page(base_url: str, *, accept_downloads: bool = False) -> Iterator[Any]:
    """A Playwright page of Debian's headless Chromium with `base_url` for relative `goto`s."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url, accept_downloads=accept_downloads)
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()
