"""Loading a model: the compiler's passes run once (`compile_model`), and the on-disk
kernel cache keeps the kernel module by the compiler's own source, the grammar, Numba's
version, the model text and its data files (`load`)."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import ir
from ..backend.codegen import Kernel, generate
from ..passes.consteval import constant_value
from ..frontend.external import DataOptions, fingerprint as external_fingerprint
from ..files import write_bytes
from ..errors import ModelError
from ..frontend.grammar import grammar_path, grammar_text
from ..passes.edits import Edits
from ..passes.pipeline import lower
from ..passes.order import Schedule, schedule
from ..frontend.parse import read_model_text
from ..frontend.source import parse_source
from .model import Model
from .tiers import Tiers, background_allowed, check_tier


def _compiler_fingerprint() -> str:
    """Changes whenever the compiler's own code changes, so stale kernels are never reused."""
    h = hashlib.sha256(grammar_text().encode())
    for f in sorted(grammar_path().parent.glob("*.lark")):
        h.update(f.read_bytes())
    for f in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        h.update(f.read_bytes())
    import numba
    h.update(numba.__version__.encode())
    return h.hexdigest()


_FINGERPRINT = None


def cache_root() -> Path:
    env = os.environ.get("SMARTSPEC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smartspec"


def compile_model(text: str, filename: str, data: DataOptions | None = None) -> tuple[ir.Model, Schedule, Kernel]:
    """The pure part of loading: text -> IR -> lowered IR -> order -> kernel source."""
    return _compile(text, filename, data)[:3]


def _compile(text: str, filename: str, data: DataOptions | None = None,
             values: dict[str, float] | None = None,
             edits: Edits | None = None) -> tuple[ir.Model, Schedule, Kernel, dict[str, ir.Expr]]:
    """compile_model, lowering with `values` where they decide the structure (see
    stateful.rules.RULES) and the equations `edits` replaces (passes/edits.py), and the
    control variables the runtime computes (see _pin_controls)."""
    model = parse_source(text, filename)
    lowered = lower(model, data, values, edits)
    sched = schedule(lowered)
    lowered, derived = _pin_controls(sched)
    if derived:
        sched = schedule(lowered)
    return model, sched, generate(sched), derived


def _pin_controls(sched: Schedule) -> tuple[ir.Model, dict[str, ir.Expr]]:
    """Control variables computed from constants before the run (SAVEPER = TIME STEP)
    become parameters that the runtime computes for each run from their equations, so
    that a run's own SAVEPER (or FINAL TIME ...) reaches every equation that reads it,
    as writing it into the model would. Returns the model and their equations."""
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


def _import_kernel(path: Path, key: str):
    name = f"smartspec_kernel_{key}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class _Origin:
    """What a loaded model was compiled from, to compile it again with other structure."""
    path: Path
    text: str
    key: str
    folder: Path
    data: DataOptions | None = None    # data files and aliases given to load
    edits: Edits | None = None         # equations a run replaces (passes/edits.py)

    def load(self, values: dict[str, float] | None, key: str, log=None, tier: str = "auto") -> Model:
        meta_path = self.folder / key / "model.pkl"
        cached = meta_path.is_file()
        if cached:
            with open(meta_path, "rb") as f:
                model, sched, kernel, derived = pickle.load(f)
        else:
            model, sched, kernel, derived = _compile(self.text, str(self.path), self.data, values, self.edits)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(meta_path, pickle.dumps((model, sched, kernel, derived),
                                                  protocol=pickle.HIGHEST_PROTOCOL))
        # Kernels are kept by their source, which holds no constant's value: a model edited
        # in its constants, or lowered again with the same structure, reuses the machine code.
        source_key = hashlib.sha256((_FINGERPRINT + "\0" + kernel.source).encode()).hexdigest()[:24]
        kernel_path = self.folder / f"k{source_key}" / "kernel.py"
        if not kernel_path.is_file():
            kernel_path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(kernel_path, kernel.source.encode())
        worker = [_WORKER, str(meta_path), str(kernel_path), source_key, str(self.path)]
        tiers = Tiers(kernel, kernel_path, lambda: _import_kernel(kernel_path, source_key), worker)
        m = Model(str(self.path), model, sched, kernel, tiers, 0.0, cached, derived, self)
        equations = len(sched.initial) + len(sched.dynamic)
        if tier == "compiled" or (tier == "auto" and m.interpreter_unsupported):
            if log is not None and not tiers.compiled_ready():
                log(f"{self.path}: compiling {equations} equations to machine code (once: later "
                    f"loads use the kernel cache in {self.folder})")
            # First call compiles (or loads the cached machine code); count it as load time.
            m.run(return_columns=[], tier="compiled")
        elif tier == "auto" and background_allowed() and not tiers.compiled_ready():
            if log is not None:
                log(f"{self.path}: compiling {equations} equations to machine code in the background "
                    "(runs use the interpreter until it is ready)")
            tiers.start_worker()
        return m

    def load_edited(self, edits: Edits, values: dict[str, float]) -> Model:
        """The model with the equations `edits` replaces, compiled (or from the cache)."""
        key = hashlib.sha256((self.key + "\0edits\0" + edits.key()).encode()).hexdigest()[:24]
        return replace(self, key=key, edits=edits).load(values, key, tier="interpreter")

    def load_variant(self, values: dict[str, float], structure: tuple) -> Model:
        key = hashlib.sha256((self.key + "\0" + repr(structure)).encode()).hexdigest()[:24]
        return self.load(values, key, tier="interpreter")


_WORKER = "import sys; from smartspec_dsl.runtime.loader import compile_worker; compile_worker(sys.argv[1:])"


def compile_worker(argv: list[str]) -> None:
    """The background compile (runtime/tiers.py): compiles the kernel of a loaded model
    (its pickled record `meta`, its source `kernel_path`) into Numba's on-disk cache by a
    first run, as a foreground load does, then marks it ready."""
    meta_path, kernel_path, source_key, path = argv
    with open(meta_path, "rb") as f:
        model, sched, kernel, derived = pickle.load(f)
    kernel_path = Path(kernel_path)
    tiers = Tiers(kernel, kernel_path, lambda: _import_kernel(kernel_path, source_key), None)
    Model(path, model, sched, kernel, tiers, 0.0, True, derived).run(return_columns=[], tier="compiled")


def load(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, log=None,
         data: DataOptions | None = None, tier: str = "auto") -> Model:
    """Parse, check, order and compile a model (Vensim .mdl or XMILE, see
    `frontend.source.model_format`); kernels are cached on disk.
    `log(message)`, when given, hears about a compile before it starts (large
    models take seconds to tens of seconds, once). `data`: data files and file
    aliases for the model's external data (external.DataOptions). `tier`: "auto" returns
    without compiling (runs use the interpreter until the kernel, compiled by a worker
    process, is ready), "compiled" compiles the kernel now, "interpreter" never does
    (runtime/tiers.py)."""
    check_tier(tier)
    global _FINGERPRINT
    started = time.perf_counter()
    path = Path(path)
    try:
        text = read_model_text(path)
    except OSError as err:
        raise ModelError(f"{path}: cannot read model: {err.strerror or err}") from None
    if _FINGERPRINT is None:
        _FINGERPRINT = _compiler_fingerprint()
    # data files the model reads are baked in at compile time, so they are part of the key
    digest = external_fingerprint(path, text, data)
    key = hashlib.sha256((_FINGERPRINT + "\0" + str(path) + "\0" + text + "\0" + digest).encode()).hexdigest()[:24]
    folder = Path(cache_dir) if cache_dir else cache_root()
    m = _Origin(path, text, key, folder, data).load(None, key, log, tier)
    m.compile_seconds = time.perf_counter() - started
    return m
