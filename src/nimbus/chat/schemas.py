"""Wire format of chats and messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nimbus.knowledge.schemas import Citation

T = TypeVar("T")


class ChatCreate(BaseModel):
    name: str | None = Field(default=None, max_length=200)


class ChatRename(BaseModel):
    name: str = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class MessageCreate(BaseModel):
    content: str = Field(min_length=1, description="The user's message.")

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be empty")
        return value


class ChatOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: str
    content: str
    status: str
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str | None
    citations: list[Citation] = Field(default_factory=list)
    created_at: datetime


class ChatDetail(ChatOut):
    messages: list[MessageOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class TurnOut(BaseModel):
    """A completed non-streaming turn: the stored question and answer."""

    user_message: MessageOut
    assistant_message: MessageOut
    citations: list[Citation] = Field(default_factory=list, description="The passages the answer is grounded in.")
    notices: list[str] = Field(default_factory=list, description="E.g. documents still being indexed.")


class ExportFormat(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"
