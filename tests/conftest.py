"""Test infrastructure: one real PostgreSQL per run (embedded, or DATABASE_URL), migrated once,
tables emptied after each test; the app over ASGI, and a live server for browser and client tests."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from nimbus.app import Components, create_app
from nimbus.config import (
    ChatSettings,
    DatabaseSettings,
    KnowledgeSettings,
    LLMSettings,
    ServerSettings,
    SessionSettings,
    Settings,
    normalize_dsn,
    setting_names,
)
from nimbus.db import migrate
from nimbus.db.base import Base
from nimbus.db.embedded import EmbeddedPostgres
from nimbus.knowledge.embeddings import build_embedder
from nimbus.knowledge.types import Embedder
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.threaded_server import ThreadedServer

pytest_plugins = ["tests.fakes.fixtures"]

# The developer's own environment must not leak into tests; DATABASE_URL only chooses the test server.
EXTERNAL_DATABASE_URL = os.environ.get("DATABASE_URL")
for _name in setting_names():
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL with pgvector for the whole run."""
    if EXTERNAL_DATABASE_URL:
        url = normalize_dsn(EXTERNAL_DATABASE_URL)
        migrate.upgrade(url)
        yield url
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = server.start()
    try:
        migrate.upgrade(url)
        yield url
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def live_database_url(database_url: str) -> Iterator[str]:
    """A second database on the same server for the live server, so its ingestion workers never pick up
    (and fail) documents of the in-process test apps, whose files live in other data dirs."""
    admin = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = "nimbus_live"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture
async def clean_db(database_url: str) -> AsyncIterator[str]:
    """The test database, emptied before the test (equivalent to a rolled-back transaction, and it also
    clears what tests against the shared live server left behind)."""
    engine = create_async_engine(database_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()
    yield database_url


def make_settings(
    database_url: str, data_dir: Path, llm: LLMSettings, knowledge: KnowledgeSettings | None = None, **chat: int
) -> Settings:
    """Settings for a test app, independent of the environment and of any `.env`."""
    return Settings(
        server=ServerSettings(_env_file=None, data_dir=data_dir),
        database=DatabaseSettings(_env_file=None, url=database_url, migrate_on_start=False),
        llm=llm,
        sessions=SessionSettings(_env_file=None, cleanup_interval_seconds=3600),
        chat=ChatSettings(_env_file=None, **chat),
        knowledge=knowledge or KnowledgeSettings(_env_file=None),
    )


def fake_llm(fake: FakeOpenAI, **overrides: object) -> LLMSettings:
    """LLM settings pointing at the fake OpenAI-protocol server."""
    values: dict[str, object] = {
        "provider": "openai",
        "base_url": fake.base_url,
        "api_key": "sk-test",
        "model": "fake-model",
        "timeout_seconds": 5,
        "max_retries": 1,
    }
    values.update(overrides)
    return LLMSettings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled embedding model, loaded once per run."""
    return build_embedder(KnowledgeSettings(_env_file=None), LLMSettings(_env_file=None))


@pytest.fixture(scope="session")
def components(embedder: Embedder) -> Components:
    return Components(embedder=embedder)


@pytest.fixture
def settings(clean_db: str, tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    return make_settings(clean_db, tmp_path, fake_llm(fake_openai))


@pytest_asyncio.fixture
async def app(settings: Settings, components: Components) -> AsyncIterator[FastAPI]:
    application = create_app(settings, components)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the app (no token)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test") as http:
        yield http


async def new_token(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v1/sessions")
    assert response.status_code == 201
    token: str = response.json()["token"]
    return token


@pytest_asyncio.fixture
async def auth(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same client carrying a fresh session's bearer token."""
    client.headers["Authorization"] = f"Bearer {await new_token(client)}"
    yield client


@pytest_asyncio.fixture
async def stranger(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second client with a session of its own."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nimbus.test") as http:
        http.headers["Authorization"] = f"Bearer {await new_token(http)}"
        yield http


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings


@pytest.fixture(scope="session")
def live_api(
    live_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai_server: FakeOpenAI,
    components: Components,
) -> Iterator[LiveServer]:
    """A real uvicorn server on 127.0.0.1 (in a thread), using the test database and the fake LLM."""
    settings = make_settings(live_database_url, tmp_path_factory.mktemp("live"), fake_llm(fake_openai_server))
    with ThreadedServer(create_app(settings, components), "live-api") as server:
        yield LiveServer(url=server.url, settings=settings)
