"""Wire format of sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SessionOut(BaseModel):
    """A session token; keep it secret, send it as `Authorization: Bearer <token>`."""

    token: str
    expires_at: datetime
