"""The interpreter's single run compiled ahead of time: a Python extension module.

Loading the interpreter from Numba's on-disk cache costs a process about 0.4 s of CPU
before its first result, more than parsing and lowering World3. The same function,
`interpreter.simulate` with the argument types every model's run has, compiled once per
install by Numba's ahead-of-time compiler (aot.py), loads in milliseconds without
importing Numba. It is built beside the interpreter's cached copy (`tier0.folder`, named
by the same version, and by the Python it is built for), by a background process the
first time the interpreter runs (or `build()`); until it exists, and wherever it cannot
be built (no C compiler), runs use the Numba-cached interpreter as before. Batches keep
the Numba one: `simulate_batch` runs in parallel threads (`prange`), which the
ahead-of-time compiler does not give.
"""
from __future__ import annotations

from pathlib import Path

from . import aot, tier0
from ..ir.constants import RK4_AUTO

# the type of `interpreter.simulate`: a tape's arrays and the generated kernel's
# `simulate_held` arguments (runtime/single.py) give (rows saved, buffer, its regions),
# the same for every model (tests/test_interpreter_aot.py checks it against the Numba one);
# an array is (dtype, dimensions), always C-contiguous
TAPE_TYPES = (("int64", 1), ("int64", 1), ("float64", 1), ("int64", 1), ("int64", 2), ("int64", 1), ("int64", 1),
              ("float64", 1), ("float64", 1))
ARG_TYPES = (("float64", 1), ("float64", 1), ("float64", 2), ("int64", 1), "float64", "float64", "int64", "int64",
             "int64", ("float64", 1), ("float64", 1), ("int64", 1))
RETURNS = "Tuple((int64, float64[::1], int64[::1]))"
SIGNATURE = (f"{RETURNS}(Tuple(({', '.join(map(aot.numba_type, TAPE_TYPES))})), "
             f"{', '.join(map(aot.numba_type, ARG_TYPES))})")


def _paths(folder: Path | None = None) -> tuple[str, Path]:
    """The module's name and its file, for this version of the interpreter and this Python
    (in `folder`, by default the interpreter's own beside its cached copy)."""
    key = tier0.version()
    folder = tier0.folder() / f"interpreter-{key}" if folder is None else Path(folder)
    return aot.module_path(folder, "smartspec_interpreter_aot_", key + SIGNATURE)


_CHECK_TAPE, _CHECK = aot.checker(TAPE_TYPES), aot.checker(ARG_TYPES)


class _Checked:
    """The module's `simulate` behind a check of its arguments' types (`aot.checker`). A run
    of RK4 Auto takes the Numba-cached interpreter: a function compiled ahead of time cannot
    raise its StepSizeError (kernel_step.step_size_failed; the process crashes), as the
    kernel's module leaves RK4 Auto out for the same reason (driver_generic.PICK)."""

    def __init__(self, module):
        self.module = module

    def simulate(self, tape, *args):
        if args[8] == RK4_AUTO:            # the method, after p .. save_every
            tier0.quick_start()
            return tier0.load().simulate(tape, *args)
        try:
            tape, args = tuple(_CHECK_TAPE(tape)), _CHECK(args)
        except TypeError as err:
            raise TypeError(f"interpreter: {err}") from None
        return self.module.simulate(tape, *args)


def load(folder: Path | None = None):
    """The ahead-of-time module (its `simulate` is `interpreter.simulate`, behind a check of
    its arguments' types) from `folder` (by default the install's), or None when it is not
    built (yet), is damaged or does not load (then runs use the Numba-cached interpreter)."""
    module = aot.load(*_paths(folder), "the interpreter's cache")
    return None if module is None else _Checked(module)


def build(folder: Path | None = None) -> Path:
    """Compile the module (about a minute of CPU, once per install) into `folder` (by
    default the install's) and put it in place atomically; its path. Errors: see `aot.build`."""
    name, path = _paths(folder)
    tier0.quick_start()
    interpreter = tier0.load()
    return aot.build(name, path, {"simulate": (SIGNATURE, interpreter.simulate.py_func)})


def start_build() -> bool:
    """Build the module in a background process unless it exists, is being built, or
    failed to build for this version before (`aot.start_build`). True when one started."""
    return aot.start_build(_paths()[1], _WORKER, [])


_WORKER = "import sys; from smartspec_dsl.backend.interpreter_aot import build_worker; build_worker(*sys.argv[1:])"


def build_worker(failed: str, slot: str) -> None:
    """The background build (`start_build`)."""
    aot.build_worker(lambda: build(), failed, slot)
