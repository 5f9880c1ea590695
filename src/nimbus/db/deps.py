"""The request-scoped database session: commits when the route returns, rolls back if it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.state import State


async def db_session(state: State) -> AsyncIterator[AsyncSession]:
    """Yield a session inside one transaction for the duration of the route function."""
    async with state.database.transaction() as session:
        yield session


# scope="function": commit before the response is sent, so a client never sees uncommitted data.
DbSession = Annotated[AsyncSession, Depends(db_session, scope="function")]
