"""The embedded PostgreSQL: data reused across restarts, attach instead of double start, root without widening."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from nimbus.db.embedded import SYSTEM_ROOT, EmbeddedPostgres


def _query(url: str, sql: str) -> object:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        cursor = connection.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def test_data_survives_restart_and_a_second_handle_attaches(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    try:
        _query(url, "CREATE TABLE kept AS SELECT 42 AS v")
        other = EmbeddedPostgres(tmp_path)
        assert other.start() == url  # attached to the running server
        other.stop()  # a handle that did not start the server leaves it running
        assert _query(url, "SELECT v FROM kept") == 42
    finally:
        server.stop()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    again = EmbeddedPostgres(tmp_path)
    url = again.start()
    try:
        assert _query(url, "SELECT v FROM kept") == 42
        assert _query(url, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") == 1
        assert _query(url, "SHOW listen_addresses") == "127.0.0.1"
        assert _query(url, "SHOW password_encryption") == "scram-sha-256"
        assert stat.S_IMODE((tmp_path / "postgres.secret").stat().st_mode) == 0o600
    finally:
        cluster = (tmp_path / "postgres").resolve()
        again.destroy()
    assert not cluster.exists()
    assert not (tmp_path / "postgres").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged-user path only applies to root")
def test_as_root_a_private_data_dir_is_not_widened(tmp_path: Path) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    data_dir = private / "nimbus"
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    cluster = (data_dir / "postgres").resolve()
    try:
        assert _query(url, "SELECT 1") == 1
        assert (data_dir / "postgres").is_symlink()
        assert cluster.parent == SYSTEM_ROOT
        assert stat.S_IMODE(private.stat().st_mode) == 0o700  # nothing was opened up
        owner = cluster.stat().st_uid
        assert owner != 0
        assert stat.S_IMODE(cluster.stat().st_mode) == 0o700
    finally:
        server.destroy()
    assert not cluster.exists()


def test_a_server_left_by_a_killed_process_is_adopted_and_stopped(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time; from pathlib import Path; from nimbus.db.embedded import EmbeddedPostgres; "
        "EmbeddedPostgres(Path(sys.argv[1])).start(); print('up', flush=True); time.sleep(120)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    with owner.stdout:
        assert owner.stdout.readline().strip() == "up"
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    pidfile = tmp_path / "postgres" / "postmaster.pid"
    assert pidfile.exists()  # the server outlived the process that started it

    heir = EmbeddedPostgres(tmp_path)
    url = heir.start()
    assert _query(url, "SELECT 1") == 1
    heir.stop()
    assert not pidfile.exists()
    heir.destroy()
