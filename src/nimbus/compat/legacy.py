"""The original endpoints, kept exactly: `POST /message`, `GET /list`, `GET /version`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from nimbus.chat import conversation
from nimbus.chat import service as chat_service
from nimbus.chat.errors import ChatNotFound, MessageTooLong
from nimbus.chat.repository import ChatRepository
from nimbus.db.deps import DbSession
from nimbus.llm.errors import LLMError, LLMRateLimited, LLMTimeout, LLMUnavailable
from nimbus.openapi import error_responses
from nimbus.sessions import service as session_service
from nimbus.sessions.deps import CurrentSession, PresentedToken
from nimbus.state import State
from nimbus.version import get_version

router = APIRouter(tags=["original endpoints"])


class LegacyMessageIn(BaseModel):
    message: str = Field(min_length=1)
    chat_id: uuid.UUID | None = None


class LegacyMessageOut(BaseModel):
    reply: str
    chat_id: str
    token: str | None = Field(default=None, description="Only when the call created a new session.")


class QuestionAnswer(BaseModel):
    chat_id: uuid.UUID
    question: str
    answer: str | None
    status: str | None
    created_at: datetime


class QuestionAnswerPage(BaseModel):
    items: list[QuestionAnswer]
    total: int
    limit: int
    offset: int


@router.post(
    "/message",
    responses=error_responses(ChatNotFound, MessageTooLong, LLMError, LLMUnavailable, LLMTimeout, LLMRateLimited),
)
async def message(body: LegacyMessageIn, state: State, token: PresentedToken) -> LegacyMessageOut:
    """Ask a question and wait for the whole reply; without a token a new session is created."""
    conversation.check_length(body.message, state.settings)
    new_token: str | None = None
    async with state.database.transaction() as db:
        if token is None:
            issued = await session_service.create_session(db, state.settings.sessions)
            session, new_token = issued.session, issued.token
        else:
            session = await session_service.authenticate(db, token, state.settings.sessions)
        chat_id = body.chat_id
        if chat_id is None:
            chat_id = (await chat_service.create_chat(db, session.id, None)).id
    turn = await conversation.begin_turn(state, session.id, chat_id, body.message)
    answer = await conversation.complete_turn(state.database, state.chat_model, turn, state.generation_params())
    return LegacyMessageOut(reply=answer.content, chat_id=str(chat_id), token=new_token)


@router.get("/list")
async def list_questions(
    db: DbSession,
    session: CurrentSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QuestionAnswerPage:
    """The calling session's questions and answers, newest first."""
    repository = ChatRepository(db)
    pairs = await repository.questions_and_answers(session.id, limit, offset)
    items = [
        QuestionAnswer(
            chat_id=question.chat_id,
            question=question.content,
            answer=answer.content if answer else None,
            status=answer.status if answer else None,
            created_at=question.created_at,
        )
        for question, answer in pairs
    ]
    total = await repository.count_user_messages(session.id)
    return QuestionAnswerPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/version")
async def version() -> dict[str, str]:
    """The running version (the VERSION file)."""
    return {"version": get_version()}
