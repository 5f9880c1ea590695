"""`OwnedChat`: a chat of the calling session, or 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from nimbus.chat import service
from nimbus.chat.models import Chat
from nimbus.db.deps import DbSession
from nimbus.sessions.deps import CurrentSession


async def owned_chat(chat_id: uuid.UUID, db: DbSession, session: CurrentSession) -> Chat:
    """Load the path's chat if the caller owns it (another session's chat is indistinguishable from none)."""
    return await service.owned_chat(db, chat_id, session.id)


OwnedChat = Annotated[Chat, Depends(owned_chat)]
