"""Housekeeping: delete expired sessions (with all they own) and close answers orphaned by a crash."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from nimbus.chat import repository as chat_repository
from nimbus.config import Settings
from nimbus.db import migrate
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.db.provision import provision
from nimbus.sessions import service as session_service

log = logging.getLogger(__name__)

# An answer still "streaming" after this long belongs to a server that died mid-generation.
STALE_ANSWER_AFTER = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class CleanupReport:
    expired_sessions: int
    stale_answers: int


async def run_cleanup(database: Database) -> CleanupReport:
    """One cleanup pass; logs and returns what it removed."""
    now = utcnow()
    async with database.transaction() as db:
        sessions = await session_service.delete_expired(db, now)
        stale = await chat_repository.interrupt_stale_answers(db, now - STALE_ANSWER_AFTER)
    report = CleanupReport(expired_sessions=sessions, stale_answers=stale)
    log.info("cleanup: deleted %d expired sessions, closed %d stale answers", sessions, stale)
    return report


async def cleanup_forever(database: Database, interval_seconds: float) -> None:
    """Run `run_cleanup` every interval until cancelled; a failed pass is logged and retried next time."""
    while True:
        try:
            await run_cleanup(database)
        except Exception:
            log.exception("cleanup pass failed; retrying in %.0f s", interval_seconds)
        await asyncio.sleep(interval_seconds)


async def run_once(settings: Settings) -> CleanupReport:
    """Provision the database, migrate it, run one cleanup pass, and release everything."""
    provisioned = await asyncio.to_thread(provision, settings)
    try:
        await asyncio.to_thread(migrate.upgrade, provisioned.url)
        database = Database.connect(provisioned.url, settings.database)
        try:
            return await run_cleanup(database)
        finally:
            await database.dispose()
    finally:
        await asyncio.to_thread(provisioned.close)
