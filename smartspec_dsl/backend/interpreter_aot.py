"""The interpreter's single run compiled ahead of time: a Python extension module.

Loading the interpreter from Numba's on-disk cache costs a process about 0.4 s of
CPU before its first result (importing Numba, then, at the first call, Numba's
typing registries and the machine code's relocation), more than parsing and
lowering World3. The same function, `interpreter.simulate` with the argument types
every model's run has, compiled once per install by Numba's ahead-of-time compiler
(`numba.pycc`, the same compiler and the same helpers: the numbers are the same
bits), is a plain extension module that loads in milliseconds without importing
Numba. It is built beside the interpreter's cached copy (`tier0.folder`, named by
the same version, and by the Python it is built for), by a background process the
first time the interpreter runs (or `build()`); until it exists, and wherever it
cannot be built (no C compiler), runs use the Numba-cached interpreter as before.
Batches keep the Numba one: `simulate_batch` runs in parallel threads (`prange`),
which the ahead-of-time compiler does not give.
"""
from __future__ import annotations

import hashlib
import importlib.util
import operator
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from . import tier0

# the type of `interpreter.simulate`: a tape's arrays and the generated kernel's
# `simulate_held` arguments (runtime/single.py) give (rows saved, buffer, its regions),
# the same for every model (tests/test_interpreter_aot.py checks it against the Numba one);
# an array is (dtype, dimensions), always C-contiguous
TAPE_TYPES = (("int64", 1), ("int64", 1), ("float64", 1), ("int64", 1), ("int64", 2), ("int64", 1), ("int64", 1),
              ("float64", 1), ("float64", 1))
ARG_TYPES = (("float64", 1), ("float64", 1), ("float64", 2), ("int64", 1), "float64", "float64", "int64", "int64",
             "int64", ("float64", 1), ("float64", 1), ("int64", 1))


def _numba_type(t) -> str:
    return t if isinstance(t, str) else f"{t[0]}[{', '.join([':'] * (t[1] - 1) + ['::1'])}]"


SIGNATURE = (f"Tuple((int64, float64[::1], int64[::1]))(Tuple(({', '.join(map(_numba_type, TAPE_TYPES))})), "
             f"{', '.join(map(_numba_type, ARG_TYPES))})")
_STALE_LOCK_SECONDS = 1800      # a build takes about a minute; a lock older than this was abandoned
_LOADED: dict[str, object] = {}


def _paths(folder: Path | None = None) -> tuple[str, Path]:
    """The module's name and its file, for this version of the interpreter and this Python
    (in `folder`, by default the interpreter's own beside its cached copy)."""
    key = tier0.version()
    folder = tier0.folder() / f"interpreter-{key}" if folder is None else Path(folder)
    # built against this numpy's headers, for this signature
    name = "smartspec_interpreter_aot_" + hashlib.sha256((key + SIGNATURE + np.__version__).encode()).hexdigest()[:20]
    return name, folder / (name + sysconfig.get_config_var("EXT_SUFFIX"))


class _Checked:
    """The module's `simulate` behind a check of its arguments' types: code compiled ahead
    of time takes an array's memory as the signature says, whatever its dtype or layout
    (Numba's own dispatcher would compile another specialisation instead), so an array
    of another type is refused here rather than misread."""

    def __init__(self, module):
        self.module = module

    def simulate(self, tape, *args):
        if len(tape) != len(TAPE_TYPES) or len(args) != len(ARG_TYPES):
            raise TypeError("interpreter: wrong number of arguments")
        checked = [_checked(x, t) for x, t in zip(args, ARG_TYPES)]
        return self.module.simulate(tuple(_checked(x, t) for x, t in zip(tape, TAPE_TYPES)), *checked)


def _checked(x, t):
    if isinstance(t, str):
        return float(x) if t == "float64" else operator.index(x)
    if not (type(x) is np.ndarray and x.dtype == t[0] and x.ndim == t[1] and x.flags.c_contiguous):
        raise TypeError(f"interpreter: expected a C-contiguous {t[1]}-d {t[0]} array, got "
                        f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
    return x


def load(folder: Path | None = None):
    """The ahead-of-time module (its `simulate` is `interpreter.simulate`, behind a check of
    its arguments' types) from `folder` (by default the install's), or None when it is not
    built (yet), is damaged or does not load (then runs use the Numba-cached interpreter)."""
    name, path = _paths(folder)
    if str(path) in _LOADED:
        return _LOADED[str(path)]
    module = None
    if path.is_file() and _intact(path):
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module = _Checked(module)
        except (ImportError, OSError):
            module = None     # built for another platform: the JIT interpreter runs
    _LOADED[str(path)] = module
    return module


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _intact(path: Path) -> bool:
    """The module's bytes are those its build wrote (the digest beside it). Loading a
    truncated or damaged shared library can kill the process (SIGBUS) before Python sees
    an error, so it is checked first; a damaged one is removed, to be built again, and
    said so in one line."""
    try:
        intact = hashlib.sha256(path.read_bytes()).hexdigest() == _digest_path(path).read_text().strip()
    except OSError:
        intact = False
    if not intact:
        print(f"warning: {path}: a damaged file in the interpreter's cache; runs use the Numba-cached "
              "interpreter until it is built again", file=sys.stderr)
        for damaged in (path, _digest_path(path)):
            try:
                damaged.unlink(missing_ok=True)
            except OSError:
                pass          # a read-only install: said again by each process, still safe
    return intact


def build(folder: Path | None = None) -> Path:
    """Compile the module (about a minute of CPU, once per install) into `folder` (by
    default the install's) and put it in place atomically; its path. Errors: ImportError
    without Numba's ahead-of-time compiler, and whatever the C compiler's run raises (no
    compiler, no Python headers)."""
    name, path = _paths(folder)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the ahead-of-time compiler's pending deprecation
        from numba.pycc import CC
    tier0.quick_start()
    interpreter = tier0.load()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".aot-build-") as out:
        cc = CC(name)
        cc.output_dir = out
        cc.export("simulate", SIGNATURE)(interpreter.simulate.py_func)
        cc.compile()
        built = Path(out) / path.name
        digest = Path(out) / "digest"
        digest.write_text(hashlib.sha256(built.read_bytes()).hexdigest() + "\n", encoding="utf-8")
        os.replace(digest, _digest_path(path))   # the digest first: a module is never without its own
        os.replace(built, path)
    return path


def start_build() -> bool:
    """Build the module in a background process unless it exists, is being built, or
    failed to build for this version before (`failed` file beside it). True when one started."""
    _, path = _paths()
    lock, failed = path.with_suffix(".lock"), path.with_suffix(".failed")
    if path.is_file() or failed.is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_SECONDS:
            lock.unlink()
    except OSError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        return False                          # another process builds it
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    subprocess.Popen([sys.executable, "-c", _WORKER, str(lock), str(failed)], env=env,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    return True


_WORKER = "import sys; from smartspec_dsl.backend.interpreter_aot import build_worker; build_worker(*sys.argv[1:])"


def build_worker(lock: str, failed: str) -> None:
    """The background build (`start_build`): `build()`, recording why it failed in `failed`
    so that later runs do not try again, and releasing the lock."""
    try:
        build()
    except Exception as err:       # noqa: BLE001 (any failure means: keep the JIT interpreter)
        Path(failed).write_text(f"{type(err).__name__}: {err}\n", encoding="utf-8")
    finally:
        Path(lock).unlink(missing_ok=True)
