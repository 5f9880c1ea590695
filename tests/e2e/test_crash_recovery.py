"""kill -9 in the middle of an ingestion: after a restart the job is redone, never half-indexed or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import free_port
from tests.e2e.test_processes import NIMBUS, _env, _postgres_processes, _wait_healthy, stop
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.test_cancel_and_links import long_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _database_dsn(data_dir: Path) -> str:
    password = (data_dir / "postgres.secret").read_text().strip()
    port = (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]
    return f"postgresql://nimbus:{password}@127.0.0.1:{port}/nimbus"


def _wait_status(url: str, headers: dict[str, str], document_id: str, done: set[str], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document: dict = httpx.get(f"{url}/api/v1/documents/{document_id}", headers=headers, timeout=5).json()
        if document["status"] in done:
            return document
        time.sleep(0.2)
    raise AssertionError(f"document stuck in {document['status']}")


def test_killed_server_resumes_ingestion_without_duplicates(data_dir: Path, fake_openai_server: FakeOpenAI) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*NIMBUS, "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = _env(data_dir, fake_openai_server)
    pdf = long_pdf(120)

    server = subprocess.Popen(command, env=env)
    try:
        _wait_healthy(url, server)
        token = httpx.post(f"{url}/api/v1/sessions").json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        queued = httpx.post(f"{url}/api/v1/documents", files={"file": ("long.pdf", pdf)}, headers=headers).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            document = httpx.get(f"{url}/api/v1/documents/{queued['id']}", headers=headers).json()
            if document["chunks"] > 0:
                break
            time.sleep(0.05)
        assert document["status"] == "embedding"
        assert 0 < document["progress"] < 1
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)

    server = subprocess.Popen(command, env=env)
    try:
        _wait_healthy(url, server)
        resumed = _wait_status(url, headers, queued["id"], {"ready", "failed", "no_text"})
        assert resumed["status"] == "ready", resumed
        # The same file ingested from scratch in another session gives the reference chunk count.
        other = {"Authorization": f"Bearer {httpx.post(f'{url}/api/v1/sessions').json()['token']}"}
        fresh = httpx.post(f"{url}/api/v1/documents", files={"file": ("long.pdf", pdf)}, headers=other).json()
        reference = _wait_status(url, other, fresh["id"], {"ready", "failed", "no_text"})
        assert resumed["chunks"] == reference["chunks"]
        with psycopg.connect(_database_dsn(data_dir)) as connection:
            rows = connection.execute(
                "SELECT count(*), count(DISTINCT ordinal), min(ordinal), max(ordinal) FROM chunk"
                " WHERE document_id = %s",
                (queued["id"],),
            ).fetchone()
            attempts = connection.execute("SELECT attempts FROM document WHERE id = %s", (queued["id"],)).fetchone()
        assert rows == (reference["chunks"], reference["chunks"], 0, reference["chunks"] - 1)
        assert attempts == (2,)
    finally:
        assert stop(server) == 0
    assert _postgres_processes(data_dir) == []
