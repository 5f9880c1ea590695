"""`CurrentSession`: the authenticated session of a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from nimbus.sessions import service
from nimbus.sessions.models import Session
from nimbus.state import State

COOKIE_NAME = "nimbus_session"


def presented_token(request: Request) -> str | None:
    """The bearer token from the Authorization header, else from the session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


PresentedToken = Annotated[str | None, Depends(presented_token)]


async def current_session(state: State, token: PresentedToken) -> Session:
    """Authenticate in a short transaction of its own, so no connection is held while a route streams."""
    async with state.database.transaction() as db:
        return await service.authenticate(db, token, state.settings.sessions)


CurrentSession = Annotated[Session, Depends(current_session)]
