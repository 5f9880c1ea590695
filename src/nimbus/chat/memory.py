"""Conversation memory: the previous turns that fit a token budget, newest kept first."""

from __future__ import annotations

from collections.abc import Sequence

from nimbus.chat.models import Message, MessageRole, MessageStatus
from nimbus.llm.base import PromptMessage, Role

# A provider-neutral estimate (≈4 characters per token for English, plus per-message overhead); exact
# counts would need each provider's tokenizer and the budget only has to be conservative.
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """Rough token count of `text`."""
    return len(text) // CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS


def history_budget(configured: int, context_tokens: int | None, reserved: Sequence[str], answer_tokens: int) -> int:
    """Tokens left for previous turns: the configured budget, capped by what a known context window leaves
    after the system prompt, the question and room for the answer."""
    if context_tokens is None:
        return configured
    left = context_tokens - answer_tokens - sum(estimate_tokens(text) for text in reserved)
    return max(0, min(configured, left))


def _usable(message: Message) -> bool:
    if message.role == MessageRole.USER:
        return True
    ok = message.status in (MessageStatus.COMPLETE, MessageStatus.INTERRUPTED)
    return ok and bool(message.content.strip())


def build_prompt(
    system_prompt: str, history: Sequence[Message], question: str, budget_tokens: int
) -> list[PromptMessage]:
    """System prompt, then as many previous turns as fit `budget_tokens`, then the question."""
    kept: list[PromptMessage] = []
    used = 0
    for message in reversed([m for m in history if _usable(m)]):
        cost = estimate_tokens(message.content)
        if used + cost > budget_tokens:
            break
        used += cost
        role: Role = "user" if message.role == MessageRole.USER else "assistant"
        kept.append(PromptMessage(role=role, content=message.content))
    kept.reverse()
    # A history that starts with an answer reads as if the model spoke first; drop it.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return [PromptMessage("system", system_prompt), *kept, PromptMessage("user", question)]


def title_from(text: str, max_chars: int) -> str:
    """A chat title from its first message: one line, cut at a word boundary."""
    line = " ".join(text.split())
    if len(line) <= max_chars:
        return line
    head = line[: max_chars - 1]
    if line[max_chars - 1] != " " and " " in head:  # do not end on half a word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:") + "…"
