"""The version, from the VERSION file (the single source; the package metadata is built from it)."""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

_SOURCE_VERSION_FILE = Path(__file__).resolve().parents[2] / "VERSION"


@cache
def get_version() -> str:
    """The running version of Nimbus."""
    if _SOURCE_VERSION_FILE.is_file():  # a source checkout: VERSION itself is the truth
        return _SOURCE_VERSION_FILE.read_text().strip()
    return metadata.version("nimbus")
