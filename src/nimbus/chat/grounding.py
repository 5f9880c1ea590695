"""Prompts grounded in retrieved passages, and the notices a user sees about their documents."""

from __future__ import annotations

from collections.abc import Sequence

from nimbus.knowledge.models import Document
from nimbus.knowledge.schemas import SearchHitOut
from nimbus.knowledge.service import progress_of
from nimbus.llm.base import PromptMessage

GROUNDED_RULES = (
    "Answer from the numbered sources taken from the user's documents. Cite the sources you use like [1] "
    "or [2]. If the sources do not contain the answer, say plainly that the documents do not contain it; "
    "do not invent facts."
)
NOTHING_RELEVANT = (
    "The user's documents were searched and contain nothing relevant to this question. Say that the "
    "documents do not contain this information. Do not make up an answer from the documents."
)


def _where(hit: SearchHitOut) -> str:
    if hit.page is not None:
        pages = f"pages {hit.page}–{hit.page_end}" if hit.page_end and hit.page_end != hit.page else f"page {hit.page}"
        return f", {pages}"
    if hit.start_seconds is not None:
        minutes, seconds = divmod(int(hit.start_seconds), 60)
        return f", at {minutes}:{seconds:02d}"
    return ""


def sources_block(hits: Sequence[SearchHitOut]) -> str:
    """The numbered passages as the model reads them."""
    return "\n\n".join(f"[{n}] {hit.document_name}{_where(hit)}:\n{hit.snippet}" for n, hit in enumerate(hits, 1))


def ground_prompt(prompt: list[PromptMessage], hits: Sequence[SearchHitOut]) -> list[PromptMessage]:
    """Add the grounding rules to the system message and the sources to the final question."""
    system, *middle, question = prompt
    if not hits:
        return [PromptMessage("system", f"{system.content}\n\n{NOTHING_RELEVANT}"), *middle, question]
    grounded = f"Sources:\n\n{sources_block(hits)}\n\nQuestion: {question.content}"
    return [PromptMessage("system", f"{system.content}\n\n{GROUNDED_RULES}"), *middle, PromptMessage("user", grounded)]


def pending_notice(pending: Sequence[Document]) -> str | None:
    """A visible note when some of the chat's documents are still being indexed."""
    if not pending:
        return None
    names = ", ".join(f"{d.name} ({round(progress_of(d) * 100)} %)" for d in pending[:5])
    more = f" and {len(pending) - 5} more" if len(pending) > 5 else ""
    return f"Still being indexed: {names}{more}. This answer only uses what has been indexed so far."
