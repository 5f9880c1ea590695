"""The `session` table: only a SHA-256 of each token is stored."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CHAR, Index
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.db.base import Base, utcnow


class Session(Base):
    """An anonymous session; deleting it deletes every chat and message it owns."""

    __tablename__ = "session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(CHAR(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_session_expires_at", "expires_at"),)
