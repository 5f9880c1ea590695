"""`POST /api/v1/sessions`."""

from __future__ import annotations

from fastapi import APIRouter, status

from nimbus.db.deps import DbSession
from nimbus.sessions import service
from nimbus.sessions.deps import PresentedToken
from nimbus.sessions.schemas import SessionOut
from nimbus.state import State

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def open_session(db: DbSession, state: State, token: PresentedToken) -> SessionOut:
    """Return the presented session refreshed if it is live, otherwise a new one (get-or-create)."""
    issued = await service.open_session(db, token, state.settings.sessions)
    return SessionOut(token=issued.token, expires_at=issued.session.expires_at)
