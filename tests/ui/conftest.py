"""Fixtures for the UI tests: clients with sessions of their own, the page under AppTest, and an API with
a tiny upload limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui.api_client import NimbusClient

from nimbus.app import Components, create_app
from nimbus.config import KnowledgeSettings
from tests.conftest import LiveServer, fake_llm, make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.threaded_server import ThreadedServer

SMALL_UPLOAD_MB = 1
APP_PATH = Path(__file__).resolve().parents[2] / "ui" / "app.py"


@pytest.fixture
def client(live_api: LiveServer) -> Iterator[NimbusClient]:
    """A client of the live API with a session of its own."""
    with NimbusClient(live_api.url) as fresh:
        fresh.create_session()
        yield fresh


@pytest.fixture
def app(live_api: LiveServer, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The Streamlit page, not yet run, talking to the live API."""
    monkeypatch.setenv("NIMBUS_API_URL", live_api.url)
    return AppTest.from_file(str(APP_PATH), default_timeout=30)


@pytest.fixture
def loaded(app: AppTest) -> AppTest:
    """The page after its first run."""
    app.run()
    assert not app.exception
    return app


@pytest.fixture
def api(loaded: AppTest, live_api: LiveServer) -> Iterator[NimbusClient]:
    """A client sharing the page's session, to arrange and check data behind the page's back."""
    with NimbusClient(live_api.url, loaded.session_state["token"]) as client:
        yield client


@pytest.fixture(scope="session")
def small_upload_api(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, fake_openai_server: FakeOpenAI, components: Components
) -> Iterator[LiveServer]:
    """A second live API that accepts files up to 1 MB and runs no ingestion workers (it only rejects)."""
    knowledge = KnowledgeSettings(_env_file=None, max_upload_mb=SMALL_UPLOAD_MB, ingest_workers=0)
    data_dir: Path = tmp_path_factory.mktemp("small-upload")
    settings = make_settings(database_url, data_dir, fake_llm(fake_openai_server), knowledge)
    with ThreadedServer(create_app(settings, components), "small-upload-api") as server:
        yield LiveServer(url=server.url, settings=settings)
