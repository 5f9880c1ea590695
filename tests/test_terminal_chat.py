from __future__ import annotations

from pathlib import Path

import pytest

from nimbus.terminal_chat import chat_loop, sse_events
from tests.conftest import LiveServer, free_port
from tests.fakes.openai_server import FakeOpenAI, Reply, Status


def test_terminal_chat_streams_answers_and_starts_new_chats(
    live_api: LiveServer, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake_openai.script(Reply(chunks=["Hello", " from", " Nimbus"]), Status(500), Status(500))
    code = chat_loop(live_api.url, tmp_path, iter(["Hi", "", "/new", "Fail please", "/quit", "never sent"]))
    out = capsys.readouterr().out
    assert code == 0
    assert "openai:fake-model" in out
    assert "Hello from Nimbus" in out
    assert "never sent" not in out
    assert len(fake_openai.chat_requests) >= 2
    assert fake_openai.chat_requests[-1].body["messages"][-1]["content"] == "Fail please"


def test_terminal_chat_reports_an_unreachable_api(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert chat_loop(f"http://127.0.0.1:{free_port()}", tmp_path, iter(["hi"])) == 1
    assert "Cannot reach the Nimbus API" in capsys.readouterr().out


def test_terminal_chat_shows_request_errors(
    live_api: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert chat_loop(live_api.url, tmp_path, iter(["x" * 40_000])) == 0
    assert "limit is 32000" in capsys.readouterr().out


def test_sse_parser_handles_comments_multiline_data_and_missing_final_blank_line() -> None:
    lines = [": ping", "event: token", "data: a", "data: b", "", "data: tail"]
    assert list(sse_events(iter(lines))) == [("token", "a\nb"), ("message", "tail")]


def test_terminal_chat_keeps_its_session_between_runs(live_api: LiveServer, tmp_path: Path) -> None:
    assert chat_loop(live_api.url, tmp_path, iter(["/quit"])) == 0
    token = (tmp_path / "cli-session").read_text()
    assert (tmp_path / "cli-session").stat().st_mode & 0o777 == 0o600
    assert chat_loop(live_api.url, tmp_path, iter(["/quit"])) == 0
    assert (tmp_path / "cli-session").read_text() == token
