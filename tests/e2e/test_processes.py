"""`nimbus` as an operator runs it: real processes, the embedded database, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from nimbus.db import migrate
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e
NIMBUS = [sys.executable, "-m", "nimbus"]


def _env(data_dir: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIMBUS_", "DB_")) and k != "DATABASE_URL"}
    env.update(
        NIMBUS_DATA_DIR=str(data_dir),
        NIMBUS_LLM_BASE_URL=fake.base_url,
        NIMBUS_LLM_MODEL="fake-model",
        NIMBUS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal a server and return its exit status; kill it (and fail) if it does not stop in time."""
    process.send_signal(sig)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"{process.args} did not stop within 60 s of signal {sig}") from None


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    cluster = str((data_dir / "postgres").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and cluster in cmdline:
            found.append(process)
    return found


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            response = httpx.get(f"{url}/healthcheck", timeout=2)
            if response.status_code == 200:
                body: dict[str, object] = response.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def test_serve_on_the_embedded_database_survives_restart_and_stops_cleanly(
    data_dir: Path, fake_openai_server: FakeOpenAI
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(data_dir, fake_openai_server)
    command = [*NIMBUS, "serve", "--host", "127.0.0.1", "--port", str(port)]

    server = subprocess.Popen(command, env=env)
    try:
        assert _wait_healthy(url, server)["status"] == "ok"
        token = httpx.post(f"{url}/api/v1/sessions").json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        chat_id = httpx.post(f"{url}/api/v1/chats", json={}, headers=headers).json()["id"]
        answer = httpx.post(f"{url}/message", json={"message": "persist me", "chat_id": chat_id}, headers=headers)
        assert answer.json()["reply"] == "Echo: persist me"
        assert _postgres_processes(data_dir)
    finally:
        assert stop(server) == 0
    assert _postgres_processes(data_dir) == []

    server = subprocess.Popen(command, env=env)  # history survives a restart on the same data dir
    try:
        _wait_healthy(url, server)
        messages = httpx.get(f"{url}/api/v1/chats/{chat_id}", headers=headers).json()["messages"]
        assert [m["content"] for m in messages] == ["persist me", "Echo: persist me"]
    finally:
        assert stop(server, signal.SIGINT) == 0
    assert _postgres_processes(data_dir) == []


def test_migrate_and_cleanup_commands(data_dir: Path, fake_openai_server: FakeOpenAI) -> None:
    env = _env(data_dir, fake_openai_server)
    migrated = subprocess.run([*NIMBUS, "migrate"], env=env, capture_output=True, text=True, check=False)
    assert migrated.returncode == 0, migrated.stderr
    assert migrate.head_revision() in migrated.stderr
    cleaned = subprocess.run([*NIMBUS, "cleanup"], env=env, capture_output=True, text=True, check=False)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "deleted 0 expired sessions" in cleaned.stdout
    assert _postgres_processes(data_dir) == []


def test_invalid_setting_stops_start_up_with_a_clear_message(tmp_path: Path, fake_openai_server: FakeOpenAI) -> None:
    env = _env(tmp_path, fake_openai_server, SESSION_EXPIRE_MINUTES="forever")
    result = subprocess.run([*NIMBUS, "serve"], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 2
    assert "SESSION_EXPIRE_MINUTES" in result.stderr


def test_version_flag() -> None:
    version = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()
    result = subprocess.run([*NIMBUS, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"nimbus {version}"


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer")


def _streamlit_children(parent: psutil.Process) -> list[psutil.Process]:
    return [p for p in parent.children(recursive=True) if "-m ui" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_run_serves_api_and_ui_and_leaves_no_orphans(data_dir: Path, fake_openai_server: FakeOpenAI) -> None:
    api_port, ui_port = free_port(), free_port()
    env = _env(data_dir, fake_openai_server)
    command = [*NIMBUS, "run", "--host", "127.0.0.1", "--port", str(api_port), "--ui-port", str(ui_port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{api_port}", process)
        _wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health")
        children = _streamlit_children(psutil.Process(process.pid))
        assert children
    finally:
        assert stop(process) == 0
    assert process.stderr is not None
    with process.stderr:
        printed = process.stderr.read()
    assert f"http://127.0.0.1:{api_port}" in printed
    assert f"http://127.0.0.1:{ui_port}" in printed
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert _postgres_processes(data_dir) == []


@pytest.mark.slow
def test_ui_command_serves_the_ui_and_stops_on_sigterm(tmp_path: Path, fake_openai_server: FakeOpenAI) -> None:
    port = free_port()
    env = _env(tmp_path, fake_openai_server)
    command = [*NIMBUS, "ui", "--port", str(port), "--api-url", "http://127.0.0.1:9"]
    process = subprocess.Popen(command, env=env)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        children = _streamlit_children(psutil.Process(process.pid))
        assert children
    finally:
        assert stop(process) == 0
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
