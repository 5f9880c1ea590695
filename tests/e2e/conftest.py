"""Fixtures for tests that run `nimbus` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nimbus.db.embedded import EmbeddedPostgres


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh NIMBUS_DATA_DIR; its embedded cluster (wherever it was placed) is deleted afterwards."""
    path = tmp_path / "data"
    yield path
    if (path / "postgres").exists() or (path / "postgres").is_symlink():
        EmbeddedPostgres(path).destroy()
