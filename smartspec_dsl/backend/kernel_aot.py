"""A model's compiled kernel, its single run compiled ahead of time (aot.py).

A warm load of the compiled tier otherwise imports Numba (0.2 s) and sets up its cache
(0.15 s) before the kernel's machine code runs: more than the rest of loading World3 from
the kernel cache. Once a kernel has been compiled by Numba (its first compiled run), a
background process compiles its single-run entries once more with Numba's ahead-of-time
compiler into an extension module in the kernel's own cache folder (`k<hash>/`, so the
cache's size limit and `smartspec cache` count and prune it with the kernel). Later loads
run it without importing Numba. The generated source is not changed: the one entry
exported (`simulate`, or `simulate_held` for a kernel with buffers) calls the kernel's own
jitted drivers, the specialised Euler driver for Euler and the generic one for RK4, as the
generated one does, so the numbers are the same bits (RK4 Auto is left out: its runs take
Numba's kernel, runtime/tiers.py). Batches (parallel threads, `prange`) keep Numba's kernel, as does a
process where the module is not built (yet), is damaged (removed, then built again) or
cannot be built (no C compiler).
"""
from __future__ import annotations

from pathlib import Path

from . import aot
from .interpreter_aot import ARG_TYPES, RETURNS

# the types of the entries: the generated kernel's `simulate` arguments (runtime/single.py:
# the diag always given; rows saved returned) and, for a kernel with buffers, its
# `simulate_held`'s (a saved buffer and its regions too: the interpreter's `simulate` without
# the tape), returning (rows saved, the buffer at the end, its regions)
SIGNATURES = {"simulate": f"int64({', '.join(map(aot.numba_type, ARG_TYPES[:10]))})",
              "simulate_held": f"{RETURNS}({', '.join(map(aot.numba_type, ARG_TYPES))})"}
_WHAT = "the kernel cache"
_CHECK = {"simulate": aot.checker(ARG_TYPES[:10]), "simulate_held": aot.checker(ARG_TYPES)}


def paths(kernel_dir: Path) -> tuple[str, Path]:
    """The module's name and file in the kernel's cache folder (named by the kernel's source,
    the compiler and Numba: see loader.py), for this signature, numpy and Python."""
    kernel_dir = Path(kernel_dir)
    return aot.module_path(kernel_dir, "smartspec_kernel_aot_", kernel_dir.name + repr(SIGNATURES))


class Entry:
    """The module's entry behind a check of its arguments' types (`aot.checker`), as the
    tiers call a kernel: `simulate` with the generated `simulate`'s arguments, or for a
    kernel with buffers `simulate_held` with its `simulate_held`'s."""

    def __init__(self, module):
        self.module = module

    def _call(self, name, args):
        try:
            args = _CHECK[name](args)
        except TypeError as err:
            raise TypeError(f"compiled kernel: {err}") from None
        return getattr(self.module, name)(*args)

    def simulate(self, *args):
        return self._call("simulate", args)

    def simulate_held(self, *args):
        return self._call("simulate_held", args)


def load(kernel_dir: Path) -> Entry | None:
    """The kernel's module compiled ahead of time, or None (not built yet, damaged, or built
    for another platform: runs use Numba's kernel)."""
    module = aot.load(*paths(kernel_dir), _WHAT)
    return None if module is None else Entry(module)


def exports(kernel) -> dict[str, tuple[str, object]]:
    """The single-run entry of the imported kernel module `kernel`, by name, with its
    signature: the kernel's Euler driver for method 0 where it has one, else its generic
    driver, as its own `simulate` (or `simulate_held`) chooses."""
    generic = kernel.simulate_generic
    euler = getattr(kernel, "simulate_euler", None)
    if hasattr(kernel, "simulate_held"):
        name = "simulate_held"
        if euler is None:
            def entry(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi):
                return generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi)
        else:
            def entry(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi):
                if method == 0:
                    return euler(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag, held, held_bi)
                return generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi)
    else:
        name = "simulate"
        if euler is None:
            def entry(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag):
                return generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag)
        else:
            def entry(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag):
                if method == 0:
                    return euler(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag)
                return generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag)
    return {name: (SIGNATURES[name], entry)}


def build(kernel_dir: Path, kernel) -> Path:
    """Compile the single run of the imported kernel module `kernel` (its file `kernel.py`
    in `kernel_dir`) into the module of `paths(kernel_dir)`: seconds of CPU, about as long
    as Numba's own compile. Errors: see `aot.build`."""
    name, path = paths(kernel_dir)
    return aot.build(name, path, exports(kernel))


def start_build(kernel_dir: Path, worker: list[str]) -> bool:
    """Build the module in a background process (`aot.start_build`) running `worker` (Python
    code that imports the kernel and calls `build`, then its arguments). True when one started."""
    return aot.start_build(paths(kernel_dir)[1], worker[0], worker[1:])
