"""Decide where the database is: the configured DSN, or the embedded server under the data dir."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nimbus.config import Settings
from nimbus.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ProvisionedDatabase:
    """A database URL, and the embedded server behind it if Nimbus runs one."""

    url: str
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        """Stop the embedded server if this process started it."""
        if self.embedded is not None:
            self.embedded.stop()


def provision(settings: Settings) -> ProvisionedDatabase:
    """Return the configured database, or start the embedded one (blocking: call off the event loop)."""
    configured = settings.database.configured_url()
    if configured is not None:
        return ProvisionedDatabase(url=configured)
    embedded = EmbeddedPostgres(
        settings.server.data_dir,
        port=settings.database.embedded_port,
        os_user=settings.database.embedded_user,
    )
    url = embedded.start()
    return ProvisionedDatabase(url=url, embedded=embedded)
