"""`/api/v1/chats`: thin routes over the chat services."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sse_starlette import EventSourceResponse

from nimbus.chat import conversation, service
from nimbus.chat.deps import OwnedChat
from nimbus.chat.errors import ChatNotFound, MessageTooLong, NothingToRegenerate
from nimbus.chat.schemas import (
    ChatCreate,
    ChatDetail,
    ChatOut,
    ChatRename,
    ExportFormat,
    MessageCreate,
    Page,
    TurnOut,
)
from nimbus.chat.streaming import event_stream
from nimbus.db.deps import DbSession
from nimbus.llm.errors import LLMError, LLMRateLimited, LLMTimeout, LLMUnavailable
from nimbus.openapi import error_responses
from nimbus.sessions.deps import CurrentSession
from nimbus.state import AppState, State

router = APIRouter(prefix="/api/v1/chats", tags=["chats"], responses=error_responses())
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream` (events start, token, done, error) or, with stream=false, JSON.",
        "content": {"text/event-stream": {}},
    }
}
TURN_ERRORS = error_responses(ChatNotFound, MessageTooLong, LLMError, LLMUnavailable, LLMTimeout, LLMRateLimited)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_chat(body: ChatCreate, db: DbSession, session: CurrentSession) -> ChatOut:
    """Start a new chat."""
    return ChatOut.model_validate(await service.create_chat(db, session.id, body.name))


@router.get("")
async def list_chats(db: DbSession, session: CurrentSession, limit: Limit = 50, offset: Offset = 0) -> Page[ChatOut]:
    """The caller's chats, most recent first."""
    page = await service.list_chats(db, session.id, limit, offset)
    items = [ChatOut.model_validate(chat) for chat in page.items]
    return Page[ChatOut](items=items, total=page.total, limit=limit, offset=offset)


@router.get("/{chat_id}", responses=error_responses(ChatNotFound))
async def get_chat(chat: OwnedChat, db: DbSession) -> ChatDetail:
    """A chat with all its messages, oldest first."""
    return await service.chat_detail(db, chat)


@router.patch("/{chat_id}", responses=error_responses(ChatNotFound))
async def rename_chat(chat: OwnedChat, body: ChatRename, db: DbSession) -> ChatOut:
    """Rename a chat."""
    return ChatOut.model_validate(await service.rename_chat(db, chat, body.name))


@router.delete("/{chat_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(ChatNotFound))
async def delete_chat(chat: OwnedChat, db: DbSession) -> Response:
    """Delete a chat and its messages."""
    await service.delete_chat(db, chat)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{chat_id}/export", responses=error_responses(ChatNotFound))
async def export_chat(chat: OwnedChat, db: DbSession, format: ExportFormat = ExportFormat.MARKDOWN) -> Response:
    """Download the chat as Markdown or JSON."""
    body = await service.export_chat(db, chat, format)
    media = "application/json" if format is ExportFormat.JSON else "text/markdown; charset=utf-8"
    suffix = "json" if format is ExportFormat.JSON else "md"
    disposition = f'attachment; filename="chat-{chat.id}.{suffix}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


@router.post("/{chat_id}/messages", responses={**SSE_DOC, **TURN_ERRORS}, response_model=TurnOut)
async def post_message(
    chat_id: uuid.UUID, body: MessageCreate, state: State, session: CurrentSession, stream: bool = True
) -> EventSourceResponse | TurnOut:
    """Ask a question; the answer streams as SSE (or returns as JSON with `stream=false`)."""
    turn = await conversation.begin_turn(state, session.id, chat_id, body.content)
    return await _answer(state, turn, stream)


@router.post(
    "/{chat_id}/regenerate",
    responses={**SSE_DOC, **TURN_ERRORS, **error_responses(NothingToRegenerate)},
    response_model=TurnOut,
)
async def regenerate(
    chat_id: uuid.UUID, state: State, session: CurrentSession, stream: bool = True
) -> EventSourceResponse | TurnOut:
    """Answer the last question again, replacing the previous answer."""
    turn = await conversation.begin_regenerate(state, session.id, chat_id)
    return await _answer(state, turn, stream)


async def _answer(state: AppState, turn: conversation.Turn, stream: bool) -> EventSourceResponse | TurnOut:
    params = state.generation_params()
    if stream:
        return event_stream(conversation.stream_turn(state.database, state.chat_model, turn, params))
    answer = await conversation.complete_turn(state.database, state.chat_model, turn, params)
    notices = [turn.notice] if turn.notice else []
    return TurnOut(user_message=turn.user_message, assistant_message=answer, citations=turn.citations, notices=notices)
