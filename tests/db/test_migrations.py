from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from nimbus.db import migrate
from nimbus.db.models import metadata


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """A brand-new database on the test server."""
    name = f"migrations_{secrets.token_hex(4)}"
    admin = make_url(database_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _extensions(url: str) -> set[str]:
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        return {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}


def test_migrations_upgrade_downgrade_and_upgrade_again(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert {"session", "chat", "message", "alembic_version"} <= _tables(empty_database)
    assert "vector" in _extensions(empty_database)
    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) == {"alembic_version"}
    assert "vector" not in _extensions(empty_database)
    migrate.upgrade(empty_database)
    assert {t.name for t in metadata.sorted_tables} <= _tables(empty_database)


def test_models_match_the_migrations(empty_database: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(empty_database)
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_head_revision_is_the_newest_migration() -> None:
    assert migrate.head_revision() == "0004"
