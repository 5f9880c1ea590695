"""Issuing, authenticating, sliding and expiring anonymous sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.config import SessionSettings
from nimbus.db.base import utcnow
from nimbus.sessions.errors import Unauthorized
from nimbus.sessions.models import Session
from nimbus.sessions.repository import SessionRepository

TOKEN_BYTES = 32  # 256 bits of entropy


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A session and the only copy of its token."""

    token: str
    session: Session


def hash_token(token: str) -> str:
    """SHA-256 hex digest: the only form in which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(
    db: AsyncSession, token: str | None, settings: SessionSettings, now: datetime | None = None
) -> Session:
    """The live session for `token`, its expiry slid forward; Unauthorized otherwise."""
    if not token:
        raise Unauthorized
    now = now or utcnow()
    session = await SessionRepository(db).get_by_token_hash(hash_token(token))
    if session is None:
        raise Unauthorized("Unknown session token.")
    if session.expires_at <= now:
        raise Unauthorized("The session has expired; create a new one with POST /api/v1/sessions.")
    # Sliding expiry, written at most once per touch interval to keep reads cheap.
    if (now - session.last_seen_at).total_seconds() >= settings.touch_interval_seconds:
        session.last_seen_at = now
        session.expires_at = now + timedelta(minutes=settings.expire_minutes)
        await db.flush()
    return session


async def open_session(db: AsyncSession, presented_token: str | None, settings: SessionSettings) -> IssuedSession:
    """Get-or-create: refresh the presented session if it is live, otherwise issue a new one."""
    now = utcnow()
    if presented_token:
        repository = SessionRepository(db)
        existing = await repository.get_by_token_hash(hash_token(presented_token))
        if existing is not None and existing.expires_at > now:
            existing.last_seen_at = now
            existing.expires_at = now + timedelta(minutes=settings.expire_minutes)
            await db.flush()
            return IssuedSession(token=presented_token, session=existing)
    return await create_session(db, settings, now)


async def create_session(db: AsyncSession, settings: SessionSettings, now: datetime | None = None) -> IssuedSession:
    """Issue a brand-new session token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session = Session(
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(minutes=settings.expire_minutes),
    )
    await SessionRepository(db).add(session)
    return IssuedSession(token=token, session=session)


async def delete_expired(db: AsyncSession, now: datetime | None = None) -> int:
    """Delete expired sessions with everything they own; returns how many sessions went."""
    return await SessionRepository(db).delete_expired(now or utcnow())
