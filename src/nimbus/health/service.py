"""Checks of the database and the language model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nimbus.db import migrate
from nimbus.state import AppState

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


async def database_check(state: AppState) -> Check:
    """Reachable, and migrated to the revision this version ships."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            current = await migrate.current_revision(state.database.engine)
    except Exception as exc:  # any failure means "not reachable"; the detail says which
        return Check(False, f"unreachable: {type(exc).__name__}")
    head = migrate.head_revision()
    if current != head:
        return Check(False, f"schema at {current}, expected {head}; run `nimbus migrate`")
    return Check(True, f"ok (schema {current})")


async def llm_check(state: AppState) -> Check:
    """Whether the configured model can answer now."""
    model = state.chat_model
    status = await model.status()
    return Check(status.ready, f"{model.provider}:{model.model}: {status.detail}")
