"""Loading a model: the compiler's passes run once (`compile_model`), and the on-disk
kernel cache (cache.py) keeps what they give, keyed by what the model reads: the
compiler's own source and grammar, the model's text and the contents of the data files
it reads; never the path it was loaded by (`load`)."""
from __future__ import annotations

import gc
import hashlib
import importlib.util
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import ir
from ..frontend.external import DataOptions, fingerprint as external_fingerprint, folder_fingerprint, \
    reads_data_folder
from ..errors import ModelError, ParameterError
from ..files import read_model_text
from ..frontend.grammar import grammar_path
from ..passes.edits import Edits
from ..backend import tier0
from . import cache
from .cache import cache_root
from .model import Model
from .tiers import Tiers, background_allowed, check_tier, interpreter_compiled, tape_of

if TYPE_CHECKING:
    from ..backend.codegen import Kernel
    from ..passes.order import Schedule

__all__ = ["cache_root", "compile_model", "load"]


def _compiler_fingerprint() -> str:
    """Changes whenever the compiler's own code or grammar changes, so stale records are never reused."""
    h = hashlib.sha256()
    for f in sorted(grammar_path().parent.glob("*.lark")):
        h.update(f.read_bytes())
    for f in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        if "__pycache__" not in f.parts:    # the interpreter's copy (tier0) is made by a run
            h.update(f.read_bytes())
    return h.hexdigest()


def _machine_fingerprint() -> str:
    """The compiler's fingerprint and the installed Numba: what a kernel's machine code depends on."""
    return hashlib.sha256((_fingerprint() + "\0" + tier0.numba_stamp()).encode()).hexdigest()


_FINGERPRINTS: dict[str, str] = {}


def _fingerprint(machine: bool = False) -> str:
    name = "machine" if machine else "compiler"
    if name not in _FINGERPRINTS:
        _FINGERPRINTS[name] = _machine_fingerprint() if machine else _compiler_fingerprint()
    return _FINGERPRINTS[name]


def compile_model(text: str, filename: str, data: DataOptions | None = None) -> tuple[ir.Model, Schedule, Kernel]:
    """The pure part of loading: text -> IR -> lowered IR -> order -> kernel source."""
    return _compile(text, filename, data)[:3]


def _compile(text: str, filename: str, data: DataOptions | None = None,
             values: dict[str, float] | None = None,
             edits: Edits | None = None) -> tuple[ir.Model, Schedule, Kernel, dict[str, ir.Expr]]:
    """compile_model, lowering with `values` where they decide the structure (see
    stateful.rules.RULES) and the equations `edits` replaces (passes/edits.py), and the
    control variables the runtime computes (see _pin_controls)."""
    # the front end and the passes are imported only when a model is compiled: a load
    # from the cache needs neither (nor lark and networkx)
    from ..backend.codegen import generate
    from ..frontend.source import parse_source
    from ..passes.dense import is_dense
    from ..passes.elements import element_schedule
    from ..passes.order import schedule
    from ..passes.pipeline import lower
    model = parse_source(text, filename)
    lowered = lower(model, data, values, edits)
    sched = schedule(lowered)
    lowered, derived = _pin_controls(sched)
    if derived:
        sched = schedule(lowered)
    kernel = generate(sched)
    if is_dense(sched.model):
        # the runtime reads elements by name (columns, parameters, states): the kernel names
        # each element's slot, and the schedule it keeps names the elements, made when asked
        sched = element_schedule(sched)
    return model, sched, kernel, derived


def _pin_controls(sched: Schedule) -> tuple[ir.Model, dict[str, ir.Expr]]:
    """Control variables computed from constants before the run (SAVEPER = TIME STEP)
    become parameters that the runtime computes for each run from their equations, so
    that a run's own SAVEPER (or FINAL TIME ...) reaches every equation that reads it,
    as writing it into the model would. Returns the model and their equations."""
    from ..passes.consteval import constant_value
    model = sched.model
    derived = {}
    variables = dict(model.variables)
    for name in ir.CONTROL_NAMES:
        var = variables.get(name)
        if var is None or var.kind is ir.Kind.CONSTANT or name in sched.dynamic or var.initial is not None:
            continue
        try:
            value = constant_value(model, name, {})
        except ModelError:
            continue  # computed in a way only the kernel knows: a run's own value is refused
        derived[name] = var.expr
        variables[name] = replace(var, kind=ir.Kind.CONSTANT, expr=ir.Num(value))
    return replace(model, variables=variables), derived


def _keep_bytecode(path: Path, fresh: bool) -> None:
    """Write the kernel module's bytecode beside it once, even when the interpreter writes
    none (PYTHONDONTWRITEBYTECODE, a read-only install): a warm load then reads it instead
    of compiling a large kernel's source again (World3: 20 ms of a 0.3 s load)."""
    pyc = importlib.util.cache_from_source(str(path))
    if fresh or not os.path.isfile(pyc):
        import py_compile
        try:
            py_compile.compile(str(path), cfile=pyc, doraise=True)
        except (OSError, py_compile.PyCompileError):
            pass    # an optimisation only: the import compiles the source


def _import_kernel(path: Path, key: str, source: str):
    """The kernel module at `path` (written again from `source` if the cache lost or damaged
    it, also while it is imported: another process may clear the cache meanwhile)."""
    name = f"smartspec_kernel_{key}"
    if name in sys.modules:
        return sys.modules[name]
    for attempt in range(3):
        try:
            intact = path.read_bytes() == source.encode()
        except OSError:
            intact = False
        if not intact:
            cache.write_file(path, source.encode())
        _keep_bytecode(path, fresh=not intact)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
            return module
        except (OSError, RuntimeError):   # the folder removed under Numba's cache locator
            del sys.modules[name]
            if attempt == 2:
                raise


@contextmanager
def _no_cyclic_collection():
    """The compiler's passes allocate hundreds of thousands of small objects that all live
    until the compile ends, which makes Python's cyclic collector walk them again and
    again (a tenth of a compile's time, more for large models); they hold no cycles to
    collect, so it waits until the compile is done. So does a load's first compiled run:
    Numba's imports and its compile of the kernel make the collector walk every object of
    the process (World3: three full collections, 0.15 s of a 2 s cold load) for the
    cycles the load leaves (World3: 69,000 objects; the peak memory is the same), which the
    collector's next full run frees. (Moving the load's objects to the oldest generation at
    the end, gc.freeze then gc.unfreeze, saved World3 another 0.15 s, but the collector then
    never ran a full collection in a process that loads model after model: its memory grew
    without bound.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class Record:
    """What the kernel cache keeps of a compiled model (`<key>/model.pkl`)."""
    model: ir.Model                  # as parsed
    schedule: Schedule
    kernel: Kernel
    derived: dict[str, ir.Expr]      # control variables the runtime computes (_pin_controls)
    tape: tuple | None               # the interpreter's tape (backend/tape.py), None if unsupported
    unsupported: str | None          # why the interpreter cannot run it
    folder_data: str | None          # the data files next to the model, when it reads them
                                     # (external.folder_fingerprint): a changed one is a miss


@dataclass(frozen=True)
class _Origin:
    """What a loaded model was compiled from, to compile it again with other structure."""
    path: Path
    text: str
    key: str
    folder: Path
    data: DataOptions | None = None    # data files and aliases given to load
    edits: Edits | None = None         # equations a run replaces (passes/edits.py)

    def record(self, values: dict[str, float] | None, key: str, tier: str = "auto") -> tuple[Record, bool]:
        """The compiled record of this model under `key`, from the cache or compiled
        (then cached), and whether it came from the cache. A load on the compiled tier
        does not build the interpreter's tape (World3: a twentieth of its cold load): a
        later load on another tier builds it once and keeps it in the record."""
        entry, filename = self.folder / key, str(self.path)
        record = cache.read_record(entry / cache.RECORD, filename)
        if isinstance(record, Record) and (record.folder_data is None
                                           or record.folder_data == folder_fingerprint(self.path)):
            if tier != "compiled" and record.tape is None and record.unsupported is None:
                tape, unsupported = tape_of(record.kernel)
                record = replace(record, tape=tape, unsupported=unsupported)
                cache.write_record(entry / cache.RECORD, record, filename)
            cache.touch(entry)
            return record, True
        with _no_cyclic_collection():
            model, sched, kernel, derived = _compile(self.text, filename, self.data, values, self.edits)
            tape, unsupported = tape_of(kernel) if tier != "compiled" else (None, None)
        folder_data = folder_fingerprint(self.path) if reads_data_folder(model, self.data) else None
        record = Record(model, sched, kernel, derived, tape, unsupported, folder_data)
        cache.write_record(entry / cache.RECORD, record, filename)   # the same string object
        cache.describe(entry, "model", self.path.name)
        return record, False

    def load(self, values: dict[str, float] | None, key: str, log=None, tier: str = "auto") -> Model:
        with _no_cyclic_collection():
            return self._load(values, key, log, tier)

    def _load(self, values: dict[str, float] | None, key: str, log, tier: str) -> Model:
        record, cached = self.record(values, key, tier)
        kernel = record.kernel
        # Kernels are kept by their source, which holds no constant's value: a model edited
        # in its constants, or lowered again with the same structure, reuses the machine code.
        source_key = hashlib.sha256((_fingerprint(machine=True) + "\0" + kernel.source).encode()).hexdigest()[:24]
        kernel_dir = self.folder / f"k{source_key}"
        kernel_path = kernel_dir / "kernel.py"
        if kernel_path.is_file():
            cache.touch(kernel_dir)
        else:
            cache.write_file(kernel_path, kernel.source.encode())
            cache.describe(kernel_dir, "kernel", self.path.name)
        if not cached:
            cache.enforce_limit(self.folder, keep={key, kernel_dir.name})
        args = [str(self.folder / key / cache.RECORD), str(kernel_path), source_key, str(self.path)]
        tiers = Tiers(kernel, kernel_path, lambda: _import_kernel(kernel_path, source_key, kernel.source),
                      [_WORKER, *args], record.tape, record.unsupported, [_AOT_WORKER, *args])
        sched = record.schedule
        m = Model(str(self.path), record.model, sched, kernel, tiers, 0.0, cached, record.derived, self)
        equations = len(sched.initial) + len(sched.dynamic)
        if tier == "compiled" or (tier == "auto" and m.interpreter_unsupported):
            m.kernel_compiled = not tiers.compiled_ready()
            if log is not None and m.kernel_compiled:
                log(f"{self.path}: compiling {equations} equations to machine code (once: later "
                    f"loads use the kernel cache in {self.folder})")
            # First call compiles (or loads the cached machine code); count it as load time.
            m.run(return_columns=[], tier="compiled")
            cache.enforce_limit(self.folder, keep={key, kernel_dir.name})
        elif tier == "auto" and background_allowed() and not tiers.compiled_ready():
            if log is not None:
                log(f"{self.path}: compiling {equations} equations to machine code in the background "
                    "(runs use the interpreter until it is ready)")
            tiers.start_worker()
        if log is not None and (tier == "interpreter" or tier == "auto" and not tiers.compiled_ready()) \
                and not m.interpreter_unsupported and not interpreter_compiled():
            log("the first run compiles smartspec's interpreter to machine code (once per installed version: "
                "about a minute of CPU)")
        return m

    def load_edited(self, edits: Edits, values: dict[str, float]) -> Model:
        """The model with the equations `edits` replaces, compiled (or from the cache)."""
        key = hashlib.sha256((self.key + "\0edits\0" + edits.key()).encode()).hexdigest()[:24]
        return replace(self, key=key, edits=edits).load(values, key, tier="interpreter")

    def load_variant(self, values: dict[str, float], structure: tuple) -> Model:
        key = hashlib.sha256((self.key + "\0" + repr(structure)).encode()).hexdigest()[:24]
        return self.load(values, key, tier="interpreter")


_WORKER = "import sys; from smartspec_dsl.runtime.loader import compile_worker; compile_worker(sys.argv[1:])"


_AOT_WORKER = "import sys; from smartspec_dsl.runtime.loader import aot_worker; aot_worker(sys.argv[1:])"


def aot_worker(argv: list[str]) -> None:
    """The background build of a kernel's single run ahead of time (runtime/tiers.py,
    backend/kernel_aot.py): imports the kernel of the cached record `meta` (compiled by Numba
    already, so loaded from its cache) and builds the module beside it; then the cache back
    under its size limit."""
    from ..backend import aot, kernel_aot
    meta_path, kernel_path, source_key, path, failed, slot = argv
    kernel_path = Path(kernel_path)

    def build():
        record = cache.read_record(Path(meta_path), path)
        if isinstance(record, Record):    # else evicted meanwhile: the next compiled run starts it again
            with _no_cyclic_collection():     # Numba's imports and compile, as in a load
                tier0.quick_start()
                kernel_aot.build(kernel_path.parent, _import_kernel(kernel_path, source_key, record.kernel.source))
    aot.build_worker(build, failed, slot)
    cache.enforce_limit(kernel_path.parents[1], keep={kernel_path.parent.name, Path(meta_path).parent.name})


def compile_worker(argv: list[str]) -> None:
    """The background compile (runtime/tiers.py): compiles the kernel of a loaded model
    (its cached record `meta`, its source `kernel_path`) into Numba's on-disk cache by a
    first run, as a foreground load does, then marks it ready (which starts its build
    ahead of time, once this process has given the build slot up: aot.start_in_slot)."""
    from ..backend import aot, kernel_aot
    *argv, slot = argv
    meta_path, kernel_path, source_key, path = argv
    kernel_path = Path(kernel_path)
    try:
        record = cache.read_record(Path(meta_path), path)
        if not isinstance(record, Record):
            return    # evicted meanwhile: the next load compiles it again
        kernel = record.kernel
        tiers = Tiers(kernel, kernel_path, lambda: _import_kernel(kernel_path, source_key, kernel.source), None)
        with _no_cyclic_collection():     # as a foreground load's first compiled run
            Model(path, record.model, record.schedule, kernel, tiers, 0.0, True, record.derived).run(
                return_columns=[], tier="compiled")
    finally:
        aot.release_slot(slot)
    if background_allowed():
        kernel_aot.start_build(kernel_path.parent, [_AOT_WORKER, *argv])
    cache.enforce_limit(kernel_path.parents[1], keep={kernel_path.parent.name, Path(meta_path).parent.name})


def data_options(data) -> DataOptions | None:
    """`load`'s `data` as external.DataOptions: None, DataOptions, or the data files alone (a
    path or a list of paths); ParameterError for anything else, before any work."""
    if data is None or isinstance(data, DataOptions):
        return data
    files = [data] if isinstance(data, (str, os.PathLike)) else data
    if not isinstance(files, (list, tuple)) or not all(isinstance(f, (str, os.PathLike)) for f in files):
        raise ParameterError(f"data must be a data file, a list of data files or a DataOptions, not {data!r}")
    return DataOptions(data_files=tuple(Path(f) for f in files))


def load(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, log=None,
         data: DataOptions | None = None, tier: str = "auto") -> Model:
    """Parse, check, order and compile a model (Vensim .mdl or XMILE, see
    `frontend.source.model_format`); what that gives is cached on disk (cache.py), keyed
    by the compiler, the model's text and the data files it reads, not by `path`.
    `log(message)`, when given, hears about a compile before it starts (large
    models take seconds to tens of seconds, once). `data`: data files and file
    aliases for the model's external data (external.DataOptions; a file or a list of files
    are its data files). `tier`: "auto" returns
    without compiling (runs use the interpreter until the kernel, compiled by a worker
    process, is ready), "compiled" compiles the kernel now, "interpreter" never does
    (runtime/tiers.py)."""
    check_tier(tier)
    data = data_options(data)
    started = time.perf_counter()
    path = Path(path)
    try:
        text = read_model_text(path)
    except OSError as err:
        raise ModelError(f"{path}: cannot read model: {err.strerror or err}") from None
    # the files the text names and the run's data files are baked in at compile time
    digest = external_fingerprint(path, text, data)
    key = hashlib.sha256("\0".join([_fingerprint(), text, digest]).encode()).hexdigest()[:24]
    folder = cache.checked_root(cache_dir or None)
    m = _Origin(path, text, key, folder, data).load(None, key, log, tier)
    m.compile_seconds = time.perf_counter() - started
    return m
