"""The two tiers a loaded model runs on, and which one runs what.

Tier 0 is the interpreter (backend/interpreter.py, compiled once per install):
a model runs on it as soon as its tape is built, in milliseconds. Tier 1 is the
model's specialised kernel (codegen), seconds to compile, then about twice as
fast per run. With tier "auto" (the default) a run uses the specialised kernel
once it is compiled and the interpreter until then, while a worker process
compiles the kernel into the on-disk cache (`SMARTSPEC_BACKGROUND_COMPILE=0`
turns the worker off); a batch large enough to pay for the compile waits for it.
"interpreter" and "compiled" force one; a tape the interpreter cannot run
falls back to the compiled kernel, the reason kept in `Tiers.unsupported`.
A kernel's single run is also compiled ahead of time once Numba has compiled it
(backend/kernel_aot.py, in a background process started by its first compiled run):
a later process runs the compiled tier from that module without importing Numba.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..backend import aot, interpreter_aot, kernel_aot, tier0
from ..backend.codegen import Kernel
from ..errors import ParameterError
from ..ir.constants import RK4_AUTO

TIERS = ("auto", "interpreter", "compiled")
READY = "ready"   # the marker the first compiled run leaves beside kernel.py
# The interpreter's cost per run is about 1 ns per tape word per step; a kernel's compile
# about 2 s + 0.5 ms per tape word (World3: 3,400 words, 4 to 9 s). A batch whose
# interpreted time would exceed the compile runs compiled.
NS_PER_WORD = 1e-9
COMPILE_SECONDS = (2.0, 0.5e-3)


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ParameterError(f"unknown tier '{tier}'; use one of {', '.join(TIERS)}")
    return tier


def tape_of(kernel: Kernel) -> tuple[tuple | None, str | None]:
    """(the interpreter's tape of `kernel` as arrays, None) or (None, why it cannot run it)."""
    from ..backend.tape import TapeUnsupported, build_tape
    try:
        return build_tape(kernel).arrays(), None
    except TapeUnsupported as err:
        return None, str(err)


def background_allowed() -> bool:
    return os.environ.get("SMARTSPEC_BACKGROUND_COMPILE", "1") != "0"


class Tiers:
    """A loaded model's interpreter tape and compiled kernel module. `import_kernel()`
    imports the module (its first call compiles it, or loads it from Numba's cache);
    `worker_command` starts a process that compiles it into the cache, `aot_command` one
    that compiles its single run ahead of time (kernel_aot.start_build)."""

    def __init__(self, kernel: Kernel, kernel_path: Path, import_kernel, worker_command: list[str] | None,
                 tape: tuple | None = None, unsupported: str | None = None, aot_command: list[str] | None = None):
        self.kernel = kernel
        self.kernel_path = Path(kernel_path)
        self._import = import_kernel
        self._worker_command = worker_command
        self._aot_command = aot_command
        self._module = None
        self._ahead: kernel_aot.Entry | None | bool = False     # False: not looked for yet
        self._marked = False                    # the READY marker written (mark_ready)
        self._tape = tape                       # built when first needed unless given (`tape_of`)
        self.unsupported = unsupported          # why the interpreter cannot run this model
        self.worker: subprocess.Popen | None = None

    # -- tier 1 ------------------------------------------------------------------
    def compiled_ready(self) -> bool:
        """The compiled kernel runs without compiling: imported, or compiled into the cache."""
        return self._module is not None or (self.kernel_path.parent / READY).is_file()

    def module(self):
        if self._module is None:
            self._module = self._import()
        return self._module

    def ahead(self) -> kernel_aot.Entry | None:
        """The kernel's single run compiled ahead of time, or None (not built yet)."""
        if self._ahead is False:
            self._ahead = kernel_aot.load(self.kernel_path.parent)
        return self._ahead

    def mark_ready(self) -> None:
        """After a compiled run: the kernel is in Numba's cache; and, when this process ran
        Numba's machine code, its single run is compiled ahead of time in the background.
        The marker is written once per loaded model, not at every run (a file's time stamp
        set: about a fifth of a small model's run)."""
        if not self._marked:
            self._marked = True
            try:
                (self.kernel_path.parent / READY).touch()
            except OSError:
                pass   # an optimisation only: the next load starts on the interpreter again
        if self._module is not None and self._aot_command is not None and background_allowed():
            kernel_aot.start_build(self.kernel_path.parent, self._aot_command)
            self._aot_command = None      # once per process

    def start_worker(self) -> bool:
        """Compile the kernel in a worker process: at most one at a time for this model, and
        none while another background compile or build runs (`aot.start_in_slot`: many loads
        in a row compile one kernel at a time; a later run starts this one)."""
        if self._worker_command is None or not background_allowed() or self.compiled_ready():
            return False
        if self.worker is not None and self.worker.poll() is None:
            return True
        self.worker = aot.start_in_slot([sys.executable, "-c", *self._worker_command])
        return self.worker is not None

    # -- tier 0 ------------------------------------------------------------------
    def tape(self):
        """The tape's arrays, or None when the interpreter cannot run this model."""
        if self._tape is None and self.unsupported is None:
            self._tape, self.unsupported = tape_of(self.kernel)
        return self._tape

    def tape_words(self) -> int:
        tape = self.tape()
        return 0 if tape is None else len(tape[0])

    # -- choosing -----------------------------------------------------------------
    def choose(self, tier: str, runs: int = 1, steps: int = 1) -> str:
        """The tier that runs `runs` runs of `steps` steps when `tier` is asked for."""
        check_tier(tier)
        if tier == "compiled" or self.tape() is None:
            return "compiled"
        if tier == "interpreter":
            return "interpreter"
        if self.compiled_ready():
            return "compiled"
        words = self.tape_words()
        if runs > 1 and runs * (steps + 1) * words * NS_PER_WORD > COMPILE_SECONDS[0] + COMPILE_SECONDS[1] * words:
            return "compiled"
        self.start_worker()
        return "interpreter"

    def simulate(self, tier: str):
        """The one-run entry of `tier`, with the generated kernel's `simulate` arguments."""
        if tier == "compiled":
            if self.ahead() is not None:
                return self._ahead_or_jitted("simulate")
            tier0.quick_start()
            return _recompiling(self.module().simulate)
        interp, tape = _interpreter(), self.tape()
        none, no_regions = np.empty(0), np.empty(0, dtype=np.int64)    # a run from the start

        def run(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag):
            return interp.simulate(tape, p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag,
                                   none, no_regions)[0]
        return _recompiling(run)

    def simulate_held(self, tier: str):
        """The one-run entry of `tier` of a model with buffers (`Kernel.buffers`), with the
        generated kernel's `simulate_held` arguments: it takes a saved state's buffer and its
        regions, and returns (rows saved, the buffer at the end, its regions)."""
        if tier == "compiled":
            if self.ahead() is not None:
                return self._ahead_or_jitted("simulate_held")
            tier0.quick_start()
            return _recompiling(self.module().simulate_held)
        interp, tape = _interpreter(), self.tape()
        return _recompiling(lambda *args: interp.simulate(tape, *args))

    def _ahead_or_jitted(self, name: str):
        """The entry `name` of the module compiled ahead of time, but Numba's kernel's for a
        run of RK4 Auto, which the module leaves out (driver_generic.PICK)."""
        ahead = getattr(self.ahead(), name)

        def run(*args):
            if args[8] != RK4_AUTO:       # the method, after p .. save_every
                return ahead(*args)
            tier0.quick_start()
            return _recompiling(getattr(self.module(), name))(*args)
        return run

    def simulate_batch(self, tier: str):
        tier0.quick_start()
        if tier == "compiled":
            return _recompiling(self.module().simulate_batch)
        interp, tape = tier0.load(), self.tape()
        return _recompiling(lambda *args: interp.simulate_batch(tape, *args))


def _interpreter():
    """The interpreter of single runs: compiled ahead of time once that is built
    (backend/interpreter_aot.py; its build is started here the first time), the
    Numba-cached one until then."""
    interp = interpreter_aot.load()
    if interp is None:
        if background_allowed():
            interpreter_aot.start_build()
        tier0.quick_start()
        interp = tier0.load()
    return interp


def interpreter_compiled() -> bool:
    """Whether a single run on the interpreter starts without compiling the interpreter:
    it is built ahead of time, or its machine code is in Numba's cache."""
    return tier0.compiled("simulate") or interpreter_aot.load() is not None


def _recompiling(entry):
    """`entry`, which compiles again what it finds damaged in Numba's on-disk cache (a
    truncated file: tier0.drop_damaged_cache), saying so in one line, instead of failing."""
    def call(*args):
        for _ in range(16):      # each damaged file once
            try:
                return entry(*args)
            except Exception as err:
                damaged = tier0.drop_damaged_cache(err)
                if damaged is None:
                    raise
                print(f"warning: {damaged}: a damaged file in the kernel cache; compiling again", file=sys.stderr)
        return entry(*args)
    return call
