"""What the CPU can do natively, for choosing how the local embedding model computes."""

from __future__ import annotations

from pathlib import Path

from nimbus.config import EmbeddingPrecision

CPUINFO = Path("/proc/cpuinfo")
# x86 instruction sets with bfloat16 arithmetic (Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4 and
# later). Without them bfloat16 is emulated and slower than float32.
BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first CPU listed in `cpuinfo` (empty where there is no such file)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def use_bfloat16(precision: EmbeddingPrecision, cpuinfo: Path = CPUINFO) -> bool:
    """Whether to embed in bfloat16: as configured, or (auto) when the CPU computes it natively."""
    if precision is EmbeddingPrecision.AUTO:
        return bool(cpu_flags(cpuinfo) & BFLOAT16_FLAGS)
    return precision is EmbeddingPrecision.BFLOAT16
