"""Resource limits: what a compile or a run would need, checked before it starts,
so that a model too big for the machine is refused with a message (what it
needs, what is available, how to reduce it) instead of a MemoryError, an
overflow deep inside Numba, or minutes of silence."""
from __future__ import annotations

import os

from .errors import ParameterError

# A run of more steps than this would take hours even for a tiny model (and a step
# count must fit the kernel's 64-bit integers).
MAX_STEPS = 10 ** 10
# One subscript range; a numbered range (a1-a100000000) is refused before it is built.
MAX_RANGE_ELEMENTS = 1_000_000
# Scalar equations after subscripts are expanded: compiling takes about 0.25 ms and
# 2 KB each (measured on the Population sample, 10,000 equations), Numba more.
MAX_SCALAR_EQUATIONS = 2_000_000
BYTES_PER_EQUATION = 4096
SMALL_NEED = 64 << 20


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or a
    large number when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:g}"


def check_memory(what: str, needed: float, how: str, where: str = "") -> None:
    """Refuse (ParameterError) when `needed` bytes exceed the memory available;
    `how` tells the modeller how to need less; `where` prefixes the message (a
    file position). Needs below 64 MiB are not checked: reading the system's figure
    costs more than a small run itself."""
    if needed < SMALL_NEED:
        return
    free = available_memory()
    if needed > free:
        prefix = f"{where}: " if where else ""
        raise ParameterError(f"{prefix}{what} needs about {_size(needed)} of memory and "
                             f"{_size(free)} is available; {how}")


def check_steps(n_steps: float, where: str = "") -> None:
    if not n_steps <= MAX_STEPS:
        prefix = f"{where}: " if where else ""
        raise ParameterError(f"{prefix}the run would take {n_steps:.3g} time steps; smartspec runs at "
                             f"most {MAX_STEPS:.0e}: use a larger TIME STEP or a shorter run "
                             "(FINAL TIME - INITIAL TIME)")
