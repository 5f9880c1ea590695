"""Database access: engine and the one place that commits, embedded PostgreSQL, migrations."""
