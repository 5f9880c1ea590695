from __future__ import annotations

import uuid

from nimbus.chat.memory import build_prompt, estimate_tokens, history_budget, title_from
from nimbus.chat.models import Message


def _message(role: str, content: str, status: str = "complete") -> Message:
    return Message(id=uuid.uuid4(), chat_id=uuid.uuid4(), role=role, content=content, status=status)


def test_prompt_keeps_the_newest_turns_that_fit_the_budget() -> None:
    history = [_message("user", "old " * 100), _message("assistant", "old answer " * 50)]
    history += [_message("user", "recent"), _message("assistant", "recent answer")]
    prompt = build_prompt("system", history, "question", budget_tokens=20)
    assert [(m.role, m.content) for m in prompt] == [
        ("system", "system"),
        ("user", "recent"),
        ("assistant", "recent answer"),
        ("user", "question"),
    ]


def test_failed_and_empty_answers_are_left_out_and_history_never_starts_with_an_answer() -> None:
    history = [
        _message("assistant", "orphan"),
        _message("user", "q1"),
        _message("assistant", "", "interrupted"),
        _message("assistant", "boom", "error"),
        _message("user", "q2"),
        _message("assistant", "half an answer", "interrupted"),
    ]
    prompt = build_prompt("s", history, "q3", budget_tokens=1000)
    assert [m.content for m in prompt] == ["s", "q1", "q2", "half an answer", "q3"]


def test_zero_budget_sends_only_system_and_question() -> None:
    prompt = build_prompt("s", [_message("user", "earlier")], "now", budget_tokens=0)
    assert [m.content for m in prompt] == ["s", "now"]


def test_history_budget_is_capped_by_a_known_context_window() -> None:
    assert history_budget(2048, None, ["x" * 4000], 1024) == 2048
    assert history_budget(2048, 4096, ["short"], 1024) == 2048
    cap = 4096 - 1024 - estimate_tokens("q" * 8000)
    assert history_budget(4000, 4096, ["q" * 8000], 1024) == cap
    assert history_budget(2048, 4096, ["q" * 40_000], 1024) == 0


def test_titles_are_one_line_and_cut_at_a_word() -> None:
    assert title_from("  Hello\n\nworld  ", 60) == "Hello world"
    assert title_from("word " * 30, 20) == "word word word word…"
    assert len(title_from("x" * 100, 20)) == 20
