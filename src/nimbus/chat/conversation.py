"""One question and its answer: store the question, stream the answer, store the outcome.

No database connection is held while the model generates: the turn begins in one short transaction
and ends in another, so a hundred concurrent streams need no more than a handful of connections.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.chat import service as chat_service
from nimbus.chat.errors import MessageTooLong, NothingToRegenerate
from nimbus.chat.grounding import ground_prompt, pending_notice
from nimbus.chat.memory import build_prompt, history_budget, title_from
from nimbus.chat.models import Message, MessageRole, MessageStatus
from nimbus.chat.repository import ChatRepository
from nimbus.chat.schemas import MessageOut
from nimbus.config import LLMProvider, Settings
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.errors import NimbusError
from nimbus.knowledge import retrieval_service
from nimbus.knowledge.models import Document
from nimbus.knowledge.schemas import Citation
from nimbus.llm.base import ChatModel, GenerationParams, PromptMessage, TextDelta, Usage
from nimbus.llm.errors import LLMError
from nimbus.state import AppState

log = logging.getLogger(__name__)

HISTORY_WINDOW = 200  # messages read to fill the token budget; older ones never fit anyway


@dataclass(frozen=True, slots=True)
class Turn:
    """A stored question awaiting its answer, with the passages it is grounded in."""

    chat_id: uuid.UUID
    user_message: MessageOut
    assistant_message_id: uuid.UUID
    prompt: list[PromptMessage]
    citations: list[Citation] = field(default_factory=list)
    grounded: bool = False
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStarted:
    chat_id: uuid.UUID
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SourcesEvent:
    citations: list[Citation]
    notice: str | None


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    message: MessageOut


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    error: NimbusError
    message_id: uuid.UUID


TurnEvent = TurnStarted | SourcesEvent | TokenEvent | DoneEvent | ErrorEvent


def check_length(content: str, settings: Settings) -> None:
    """Reject messages longer than the configured limit (413)."""
    limit = settings.chat.max_message_chars
    if len(content) > limit:
        raise MessageTooLong(f"The message has {len(content)} characters; the limit is {limit}.")


async def begin_turn(state: AppState, session_id: uuid.UUID, chat_id: uuid.UUID, content: str) -> Turn:
    """Store the user's message and an empty answer placeholder, retrieve, and build the prompt."""
    settings = state.settings
    check_length(content, settings)
    async with state.database.transaction() as db:
        chat = await chat_service.owned_chat(db, chat_id, session_id)
        repository = ChatRepository(db)
        history = await repository.recent_messages(chat.id, HISTORY_WINDOW)
        user = Message(chat_id=chat.id, role=MessageRole.USER, content=content, status=MessageStatus.COMPLETE)
        await repository.add(user)
        if not chat.named_by_user and not history:
            chat.name = title_from(content, settings.chat.title_chars)
        chat.updated_at = utcnow()
        question = MessageOut.model_validate(user)
        documents = await retrieval_service.documents_in_scope(db, session_id, chat.id)
        if not documents:
            return await _prepare(state, db, chat.id, question, history, retrieval_service.NO_DOCUMENTS)
    return await _prepare_grounded(state, chat_id, question, history, documents)


async def begin_regenerate(state: AppState, session_id: uuid.UUID, chat_id: uuid.UUID) -> Turn:
    """Drop the last answer and prepare to answer the last question again."""
    async with state.database.transaction() as db:
        chat = await chat_service.owned_chat(db, chat_id, session_id)
        repository = ChatRepository(db)
        messages = await repository.recent_messages(chat.id, HISTORY_WINDOW)
        last_question = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
        if last_question is None:
            raise NothingToRegenerate
        for stale in messages[last_question + 1 :]:
            await db.delete(stale)
        chat.updated_at = utcnow()
        question = MessageOut.model_validate(messages[last_question])
        history = messages[:last_question]
        documents = await retrieval_service.documents_in_scope(db, session_id, chat.id)
        if not documents:
            return await _prepare(state, db, chat.id, question, history, retrieval_service.NO_DOCUMENTS)
    return await _prepare_grounded(state, chat_id, question, history, documents)


async def _prepare_grounded(
    state: AppState,
    chat_id: uuid.UUID,
    question: MessageOut,
    history: Sequence[Message],
    documents: Sequence[Document],
) -> Turn:
    """With the question already committed: retrieve (no connection held while the question is embedded),
    then store the answer placeholder in a second short transaction."""
    grounding = await retrieval_service.ground(state, documents, question.content)
    async with state.database.transaction() as db:
        return await _prepare(state, db, chat_id, question, history, grounding)


async def _prepare(
    state: AppState,
    db: AsyncSession,
    chat_id: uuid.UUID,
    question: MessageOut,
    history: Sequence[Message],
    grounding: retrieval_service.Grounding,
) -> Turn:
    """Build the prompt and store the answer placeholder."""
    settings = state.settings
    budget = _budget(settings, question.content)
    prompt = build_prompt(settings.llm.system_prompt, history, question.content, budget)
    citations = grounding.citations if grounding.has_documents else []
    if grounding.has_documents:
        prompt = ground_prompt(prompt, grounding.hits)
    assistant = _placeholder(chat_id, state.chat_model.model)
    assistant.citations = [citation.model_dump(mode="json") for citation in citations]
    await ChatRepository(db).add(assistant)
    notice = pending_notice(grounding.pending)
    return Turn(chat_id, question, assistant.id, prompt, citations, grounding.has_documents, notice)


def _budget(settings: Settings, question: str) -> int:
    llm = settings.llm
    # The local model's window is known and small; remote providers' windows are large and not reported.
    window = llm.context_tokens if llm.chosen_provider is LLMProvider.LOCAL else None
    return history_budget(settings.chat.history_tokens, window, [llm.system_prompt, question], llm.max_tokens)


def _placeholder(chat_id: uuid.UUID, model: str) -> Message:
    return Message(chat_id=chat_id, role=MessageRole.ASSISTANT, content="", status=MessageStatus.STREAMING, model=model)


async def stream_turn(
    database: Database, model: ChatModel, turn: Turn, params: GenerationParams
) -> AsyncIterator[TurnEvent]:
    """Generate the answer, yielding events; the outcome is stored whatever happens."""
    yield TurnStarted(turn.chat_id, turn.user_message.id, turn.assistant_message_id)
    if turn.grounded or turn.notice:
        yield SourcesEvent(turn.citations, turn.notice)
    parts: list[str] = []
    usage: Usage | None = None
    try:
        async for event in model.stream(turn.prompt, params):
            if isinstance(event, TextDelta):
                if event.text:
                    parts.append(event.text)
                    yield TokenEvent(event.text)
            else:
                usage = event
    except LLMError as exc:
        await _finish(database, turn, "".join(parts), MessageStatus.ERROR, None, exc.message)
        yield ErrorEvent(exc, turn.assistant_message_id)
        return
    except Exception as exc:
        log.exception("generation failed for message %s", turn.assistant_message_id)
        error = LLMError(f"The answer failed: {type(exc).__name__}.")
        await _finish(database, turn, "".join(parts), MessageStatus.ERROR, None, error.message)
        yield ErrorEvent(error, turn.assistant_message_id)
        return
    except BaseException:
        # The client went away (cancellation or generator close): keep what was said so far.
        with anyio.CancelScope(shield=True):
            await _finish(database, turn, "".join(parts), MessageStatus.INTERRUPTED, usage, None)
        raise
    stored = await _finish(database, turn, "".join(parts), MessageStatus.COMPLETE, usage, None)
    yield DoneEvent(stored)


async def complete_turn(database: Database, model: ChatModel, turn: Turn, params: GenerationParams) -> MessageOut:
    """Generate the whole answer; raise the provider's error (after storing it) on failure."""
    async for event in stream_turn(database, model, turn, params):
        if isinstance(event, DoneEvent):
            return event.message
        if isinstance(event, ErrorEvent):
            raise event.error
    raise LLMError("The answer ended without a result.")  # pragma: no cover - stream_turn always ends


async def _finish(
    database: Database,
    turn: Turn,
    content: str,
    status: MessageStatus,
    usage: Usage | None,
    error: str | None,
) -> MessageOut:
    async with database.transaction() as db:
        message = await ChatRepository(db).get_message(turn.assistant_message_id)
        if message is None:  # the chat was deleted while the answer streamed
            return _detached(turn, content, status, error)
        message.content = content
        message.status = status
        message.error = error
        if usage is not None:
            message.prompt_tokens = usage.prompt_tokens
            message.completion_tokens = usage.completion_tokens
        await db.flush()
        return MessageOut.model_validate(message)


def _detached(turn: Turn, content: str, status: MessageStatus, error: str | None) -> MessageOut:
    return MessageOut(
        id=turn.assistant_message_id,
        role=MessageRole.ASSISTANT,
        content=content,
        status=status,
        model=None,
        prompt_tokens=None,
        completion_tokens=None,
        error=error,
        created_at=utcnow(),
    )
