"""Database failures as API errors."""

from __future__ import annotations

from nimbus.errors import ServiceUnavailable


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached; nothing was written."""

    code = "database_unavailable"
    default_message = "The database is unavailable; please retry shortly."


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not be prepared or started."""
