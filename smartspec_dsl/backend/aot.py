"""Jitted functions compiled ahead of time into a Python extension module.

Loading machine code from Numba's on-disk cache costs a process about 0.4 s of CPU before
its first result (importing Numba, then, at the first call, Numba's typing registries and
the relocation of the machine code). The same functions compiled by Numba's ahead-of-time
compiler (`numba.pycc`: the same compiler with the same helpers, so the same bits) are a
plain extension module that loads in milliseconds without importing Numba. Two users:
the interpreter (interpreter_aot.py, once per install) and each model's compiled kernel
(kernel_aot.py, once per kernel, beside it in the kernel cache). This module is what they
share: the module's name and file, its digest check at load, the build (in a background
process, one at a time per install, and not again after a failed one), and the check of the
arguments' types that Numba's dispatcher would otherwise make.
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import operator
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from . import tier0

STALE_LOCK_SECONDS = 1800      # a build takes a minute or so; a slot held longer than this was abandoned
_LOADED: dict[str, object] = {}


def numba_type(t) -> str:
    """Numba's spelling of an argument type: a scalar's name, or (dtype, dimensions) for a
    C-contiguous array."""
    return t if isinstance(t, str) else f"{t[0]}[{', '.join([':'] * (t[1] - 1) + ['::1'])}]"


def module_path(folder: Path, prefix: str, key: str) -> tuple[str, Path]:
    """The module's name and its file in `folder`, named by `key` (what its machine code is
    made of), the numpy whose headers it is built against, the CPU it is built for
    (`cpu_key`) and this Python."""
    name = prefix + hashlib.sha256((key + np.__version__ + (cpu_key() or "")).encode()).hexdigest()[:20]
    return name, Path(folder) / (name + sysconfig.get_config_var("EXT_SUFFIX"))


@functools.lru_cache(maxsize=1)
def cpu_key() -> str | None:
    """What names this machine's CPU (its vendor, model and features, from /proc/cpuinfo), or
    None where that cannot be read. Code is compiled for the host CPU, as Numba compiles
    its own (the ahead-of-time compiler's default, a generic CPU of the architecture, runs
    World3 a third slower), so a module is named by the CPU: a cache shared with another
    machine never runs instructions that machine lacks (Numba's cache is keyed the same way).
    Without a key, code is compiled for the generic CPU. Read from the file rather than asked
    of LLVM: importing llvmlite would cost a warm load a tenth of a second."""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            first = f.read(1 << 20).split(b"\n\n", 1)[0]
    except OSError:
        return None
    fields = (b"vendor_id", b"model name", b"flags", b"CPU implementer", b"CPU part", b"Features")
    lines = [ln for ln in first.splitlines() if ln.split(b":", 1)[0].strip() in fields]
    return hashlib.sha256(b"\n".join(lines)).hexdigest()[:16] if lines else None


def have_compiler() -> bool:
    """Whether the C compiler Python was built with is installed (the ahead-of-time compiler
    links with it): without one, no build is started."""
    cc = (sysconfig.get_config_var("CC") or "").split()
    return bool(cc) and shutil.which(cc[0]) is not None


def checker(types: tuple):
    """A function that returns its arguments as the compiled code reads arguments of `types`
    (see `numba_type`), else raises a TypeError: code compiled ahead of time takes an
    array's memory as its signature says, whatever its dtype or layout (Numba's dispatcher
    would compile another specialisation instead), so an array of another type is refused
    rather than misread. (Per run: a few microseconds, a run of a small model's.)"""
    arrays = [(k, np.dtype(t[0]), t[1]) for k, t in enumerate(types) if not isinstance(t, str)]
    scalars = [(k, float if t == "float64" else operator.index) for k, t in enumerate(types) if isinstance(t, str)]
    ndarray = np.ndarray

    def check(args):
        if len(args) != len(types):
            raise TypeError(f"expected {len(types)} arguments, got {len(args)}")
        args = list(args)
        for k, dtype, ndim in arrays:
            x = args[k]
            if type(x) is not ndarray or x.dtype != dtype or x.ndim != ndim or not x.flags.c_contiguous:
                raise TypeError(f"expected a C-contiguous {ndim}-d {dtype} array, got "
                                f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
        for k, scalar in scalars:
            args[k] = scalar(args[k])
        return args
    return check


def load(name: str, path: Path, what: str):
    """The extension module `name` at `path`, or None when it is not built (yet), is damaged
    (then removed, see `_intact`) or does not load (built for another platform). `what`
    names the cache in the warning about a damaged file. Loaded once per process."""
    if str(path) in _LOADED:
        return _LOADED[str(path)]
    if not (path.is_file() and _intact(path, what)):
        return None
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError):
        return None      # built for another platform: Numba's machine code runs
    _LOADED[str(path)] = module
    return module


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _intact(path: Path, what: str) -> bool:
    """The module's bytes are those its build wrote (the digest beside it). Loading a
    truncated or damaged shared library can kill the process (SIGBUS) before Python sees
    an error, so it is checked first; a damaged one is removed, to be built again, and
    said so in one line."""
    try:
        intact = hashlib.sha256(path.read_bytes()).hexdigest() == _digest_path(path).read_text().strip()
    except OSError:
        intact = False
    if not intact:
        print(f"warning: {path}: a damaged file in {what}; runs use the Numba-cached machine code "
              "until it is built again", file=sys.stderr)
        for damaged in (path, _digest_path(path)):
            try:
                damaged.unlink(missing_ok=True)
            except OSError:
                pass          # a read-only folder: said again by each process, still safe
    return intact


def build(name: str, path: Path, exports: dict[str, tuple[str, object]]) -> Path:
    """Compile `exports` (exported name -> (Numba signature, Python function, which may call
    jitted functions)) into the module `name` and put it at `path` atomically, the digest
    first; its path. Errors: ImportError without Numba's ahead-of-time compiler, and
    whatever the C compiler's run raises (no compiler, no Python headers)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the ahead-of-time compiler's pending deprecation
        from numba.pycc import CC
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".aot-build-") as out:
        cc = CC(name)
        cc.output_dir = out
        cc.target_cpu = "host" if cpu_key() else ""
        for export, (signature, function) in exports.items():
            cc.export(export, signature)(function)
        # the compiler's own temporary folder inside this one: a killed build leaves one
        # folder, which the next start_build removes
        system_temp, tempfile.tempdir = tempfile.tempdir, out
        try:
            cc.compile()
        finally:
            tempfile.tempdir = system_temp
        built = Path(out) / path.name
        digest = Path(out) / "digest"
        digest.write_text(hashlib.sha256(built.read_bytes()).hexdigest() + "\n", encoding="utf-8")
        os.replace(digest, _digest_path(path))   # the digest first: a module is never without its own
        os.replace(built, path)
    return path


def build_slot() -> Path:
    """The lock that lets one build run at a time, whichever model or cache it is for: one
    per install's interpreter cache (`tier0.folder`), which every process of the install shares.
    It holds the process id of the build that has it."""
    return tier0.folder() / "aot-build.lock"


def _abandoned(slot: Path) -> bool:
    """Whether the build holding `slot` has gone (its process is dead, or the lock is older
    than STALE_LOCK_SECONDS: a process id reused meanwhile): killed (shutdown, out of memory,
    a user's kill), it could not release it."""
    try:
        text, age = slot.read_text(encoding="utf-8").strip(), time.time() - slot.stat().st_mtime
    except OSError:
        return False                  # released meanwhile: the next attempt takes it
    if age > STALE_LOCK_SECONDS:
        return True
    try:
        os.kill(int(text), 0)
    except ValueError:
        return False                  # just created, its process id not written yet
    except ProcessLookupError:
        return True
    except OSError:
        return False                  # alive, another user's
    return False


def _take(slot: Path) -> bool:
    """Take the build slot (O_EXCL: one process wins), replacing an abandoned one."""
    for _ in range(2):
        try:
            fd = os.open(slot, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not _abandoned(slot):
                return False
            try:
                slot.unlink()
            except OSError:
                return False
            continue
        except OSError:
            return False              # the folder cannot be written: no build
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _hold(slot: Path, pid: int) -> None:
    """The slot now names the build's process `pid` (written beside it, then moved over it)."""
    tmp = slot.with_name(f"{slot.name}.{os.getpid()}")
    try:
        tmp.write_text(str(pid), encoding="utf-8")
        os.replace(tmp, slot)
    except OSError:
        pass                          # the slot still names this process, alive while it runs


# The builds this process started: a build outlives the run that started it (it is not waited
# for), and a Popen dropped or left at exit while its process runs makes Python warn
# ("ResourceWarning: subprocess N is still running").
_STARTED: list[subprocess.Popen] = []


def _reap() -> None:
    """Forget the builds of this process that have finished (their exit status collected)."""
    _STARTED[:] = [p for p in _STARTED if p.poll() is None]


@atexit.register
def _leave_running() -> None:
    for p in _STARTED:
        if p.poll() is None:
            p.returncode = 0          # not waited for, by design: no warning at exit


def start_in_slot(command: list[str]) -> subprocess.Popen | None:
    """Run `command` (a Python process: this package first on its path) in the background,
    detached from this one, if it can take the install's build slot (`build_slot`: one
    background compile or build at a time, each a core for seconds to a minute); it passes
    the slot's path as its last argument, and releases it (`release_slot`). None when
    another one runs (or the slot's folder cannot be written)."""
    _reap()
    slot = build_slot()
    try:
        slot.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not _take(slot):
        return None
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.Popen([*command, str(slot)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        slot.unlink(missing_ok=True)
        return None
    _hold(slot, proc.pid)
    _STARTED.append(proc)
    return proc


def release_slot(slot: str) -> None:
    """Give the build slot up, from the process that holds it (not one that took it over
    meanwhile, after this one ran past STALE_LOCK_SECONDS)."""
    try:
        mine = Path(slot).read_text(encoding="utf-8").strip() == str(os.getpid())
    except OSError:
        return
    if mine:
        Path(slot).unlink(missing_ok=True)


def start_build(path: Path, worker: str, args: list[str]) -> bool:
    """Run the Python code `worker` (with `args`, then the failure record's and the build
    slot's paths, in sys.argv) in a background process that builds the module at `path`,
    unless it exists, failed to build before (a `.failed` file beside it), there is no C
    compiler, or another build runs (`start_in_slot`). What a killed build left beside
    `path` (its temporary folder) is removed first. True when one started."""
    failed = path.with_suffix(".failed")
    if path.is_file() or failed.is_file() or not have_compiler():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    if build_slot().exists() and not _abandoned(build_slot()):
        return False                  # another runs: its temporary folder is not a leftover
    for left in path.parent.glob(".aot-build-*"):
        shutil.rmtree(left, ignore_errors=True)
    return start_in_slot([sys.executable, "-c", worker, *args, str(failed)]) is not None


def build_worker(build_it, failed: str, slot: str) -> None:
    """The background build (`start_build`): `build_it()`, recording why it failed in `failed`
    so that later runs do not try again, and releasing the build slot."""
    try:
        build_it()
    except Exception as err:       # noqa: BLE001 (any failure means: keep Numba's machine code)
        try:
            Path(failed).write_text(f"{type(err).__name__}: {err}\n", encoding="utf-8")
        except OSError:
            pass                    # the folder was removed meanwhile (the cache evicted it)
    finally:
        release_slot(slot)
