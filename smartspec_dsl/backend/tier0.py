"""Loading the interpreter tier (backend/interpreter.py) with a cache that is never stale.

Numba's on-disk cache is keyed on the file that defines a function, not on the
helpers it calls (the kernel library), so the interpreter is imported from a
copy of its source in a folder named by a hash of the whole back end and
Numba's version, as generated kernels are: a changed helper gets a freshly
compiled interpreter, an unchanged install loads the machine code from disk.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import operator
import os
import shutil
import sys
from pathlib import Path

from ..files import install_cache, write_bytes

_HERE = Path(__file__).resolve().parent
_PACKAGE = _HERE.parent
# What the machine code Numba caches for the package is made of (paths in the package): the
# interpreter (and the tape's layout it reads), every module that defines cached jitted
# functions, and the files whose constants they read, which a jitted function freezes into
# its machine code. Numba keys a function's cache on its own file only; `version()` hashes
# all of these, and the interpreter's copy and the helpers' caches (`HelperStamp`) are keyed
# on it, so that editing any of them (solve_layout.MAX_PASSES, ir.constants.NA_VALUE, a helper
# another one inlines) compiles them again. tests/test_tier0.py fails when a module with
# cached helpers, or a package module one imports, is missing here.
SOURCES = ("backend/interpreter.py", "backend/interpreter_vector.py", "backend/tape.py", "backend/opcodes.py",
           "backend/kernel_lib.py", "backend/kernel_intrinsics.py", "backend/kernel_random.py",
           "backend/kernel_extra.py", "backend/kernel_market.py", "backend/kernel_solve.py",
           "backend/kernel_finance.py", "backend/kernel_queues.py", "backend/kernel_step.py", "backend/solve_layout.py",
           "backend/watch.py", "ir/constants.py", "experiments/stats.py")


def numba_stamp() -> str:
    """What names the installed Numba, read without importing it (a third of a second):
    its version file (the version and the revision it was built from), else its version."""
    spec = importlib.util.find_spec("numba")
    if spec is not None and spec.origin:
        try:
            return hashlib.sha256(Path(spec.origin).with_name("_version.py").read_bytes()).hexdigest()
        except OSError:
            pass
    import numba
    return numba.__version__


@functools.lru_cache(maxsize=1)
def version() -> str:
    """A hash of the package's jitted sources (`SOURCES`) and the installed Numba (read once
    per process: an install's files do not change under a running process)."""
    h = hashlib.sha256(numba_stamp().encode())
    for name in SOURCES:
        h.update((_PACKAGE / name).read_bytes())
    return h.hexdigest()[:20]


def stamped(path: str) -> bool:
    """Whether the file `path` is one of `SOURCES` (its cached functions keyed on `version()`)."""
    return _stamped(path, _PACKAGE)


@functools.lru_cache(maxsize=None)
def _stamped(path: str, package: Path) -> bool:
    # asked for every cached jitted function, of a few files (resolving a path reads each of
    # its folders: 5 ms of the 110 helpers a cold load imports)
    try:
        return Path(path).resolve().relative_to(package).as_posix() in SOURCES
    except ValueError:
        return False


def folder() -> Path:
    """Where the interpreter's machine code is kept: the package's __pycache__ (once per
    install), else, when that is not writable, the user's cache directory
    ($SMARTSPEC_INTERPRETER_CACHE overrides both). Not the kernel cache: that one
    is per model (and per test session)."""
    env = os.environ.get("SMARTSPEC_INTERPRETER_CACHE")
    if env:
        return Path(env)
    return install_cache(_HERE, "smartspec-interpreter")


def compiled(entry: str) -> bool:
    """Whether Numba's on-disk cache holds the interpreter's function `entry` ("simulate",
    "simulate_batch") for this version (its index file), so that its first call in a process
    loads machine code instead of compiling it (about a minute of CPU)."""
    cached = folder() / f"interpreter-{version()}" / "__pycache__"
    return any(cached.glob(f"interpreter.{entry}-*.nbi"))


@functools.cache
def quick_start() -> None:
    """Spare Numba's compiles in this process work whose result is known (see `_blas_probe`,
    `_intrinsic_typing`, `_scalar_operators`). Once per process: every compiled run asks."""
    _intrinsic_typing()
    _scalar_operators()
    _operator_typing()
    _abi_sizes()
    _literal_lookups()
    _lowering_calls()
    _blas_probe()


def _scalar_operators() -> None:
    """Numba types an operator (`a + b`: a kernel's every arithmetic) by trying each of its
    templates, among them NumPy's array operator, which first finds the ufunc loop of the
    operands' types and only then gives up when none of them is an array (World3's cold load:
    0.3 s of CPU). That template gives up first here, on the same test it applies last (no
    operand, an optional one unwrapped, is an array), so every operator types as before."""
    from numba.core import types
    from numba.core.typing import npydecl
    template = getattr(npydecl, "NumpyRulesArrayOperator", None)
    original = getattr(template, "generic", None)
    if original is None or getattr(original, "arrays_first", False):
        return

    def generic(self, args, kws):
        if not any(isinstance(a.type if isinstance(a, types.Optional) else a, types.ArrayCompatible) for a in args):
            return None
        return original(self, args, kws)
    generic.arrays_first = True
    template.generic = generic


# The operators whose typing on numbers `_operator_typing` remembers
_OPERATORS = frozenset(getattr(operator, n) for n in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs", "lt", "le", "gt", "ge", "eq",
    "ne", "not_", "truth", "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow"))


def _operator_typing() -> None:
    """Numba types every operator of a kernel (`a / b`: World3 has 1,800) by trying each of
    the operator's templates in turn (for `*`: the integer, float, complex, NumPy scalar and
    array ones, each under several conversions), the same work for the same operand types
    every time (a sixth of a kernel's compile). On numbers, what that gives depends on the
    operator and the operand types only, so it is kept per (operator, context, operand types)
    and given again, with the implementation Numba's lowering looks up for it; an operator
    that does not type is tried in full each time, so that its error is Numba's own."""
    from numba.core import types
    from numba.core.types import functions
    original = functions.BaseFunction.get_call_type
    if getattr(original, "remembered", False):
        return
    known: dict = {}

    def get_call_type(self, context, args, kws):
        key = self.typing_key if not kws else None
        if key not in _OPERATORS or not all(isinstance(a, (types.Number, types.Boolean)) for a in args):
            return original(self, context, args, kws)
        memo = (self, context, tuple(args))
        hit = known.get(memo)
        if hit is None:
            sig = original(self, context, args, kws)
            if sig is None:
                return None
            hit = known[memo] = (sig, self._impl_keys[sig.args])
        sig, impl = hit
        self._impl_keys[sig.args] = impl
        return sig
    get_call_type.remembered = True
    functions.BaseFunction.get_call_type = get_call_type


def _abi_sizes() -> None:
    """Numba's lowering asks the ABI size of every named local's LLVM type (for debug
    information, which is off) and llvmlite finds it by writing and parsing a module that
    declares a global of that type (World3: 240 locals, 240 modules parsed). The size of a
    type written out in full (no named struct, `%name`, whose body the text does not show)
    depends on its text and the target's data layout only: each is found once."""
    from numba.core import base
    original = base.BaseContext.get_abi_sizeof
    if getattr(original, "remembered", False):
        return
    known: dict = {}

    def get_abi_sizeof(self, ty):
        text = str(ty)
        if "%" in text:
            return original(self, ty)
        key = (self.target_data, text)
        size = known.get(key)
        if size is None:
            size = known[key] = original(self, ty)
        return size
    get_abi_sizeof.remembered = True
    base.BaseContext.get_abi_sizeof = get_abi_sizeof


def _literal_lookups() -> None:
    """Numba's lowering looks up the implementation of each constant and of each conversion
    by the types involved, a search through every registered one (then remembered for those
    types). Every integer a kernel writes (a slot, a table's index: World3 has 350 distinct
    ones) is a type of its own, `Literal[int](124)`, searched for twice: its constant and its
    conversion to an int64, a sixth of the lowering. Which implementation is found depends
    on the literal's type class and value type only, unless a registered one names a literal
    type itself (none does; a registry that has one is searched in full): it is remembered
    per class and value type here, while the registry stays as it was."""
    from numba.core import base, types
    selector = base.OverloadSelector
    original = selector.find
    if getattr(original, "by_literal_class", False):
        return

    def literal_free(self) -> bool:
        n = len(self.versions)          # registries only grow (OverloadSelector.append)
        known = self.__dict__.get("_literal_free")
        if known is None or known[0] != n:
            free = not any(isinstance(t, types.Literal) or isinstance(getattr(t, "dtype", None), types.Literal)
                           for formal, _ in self.versions for t in formal)
            known = self._literal_free = (n, free)
        return known[1]

    def find(self, sig):
        if not any(isinstance(t, types.Literal) for t in sig) or not literal_free(self):
            return original(self, sig)
        key = (len(self.versions),) + tuple((type(t), t.literal_type) if isinstance(t, types.Literal) else t
                                            for t in sig)
        memo = self.__dict__.setdefault("_by_literal_class", {})
        impl = memo.get(key)
        if impl is None:
            impl = memo[key] = original(self, sig)
        return impl
    find.by_literal_class = True
    selector.find = find


def _lowering_calls() -> None:
    """Numba's lowering of an operator or a call (World3: 1,000 of them) first tries it with
    its operands' values as compile-time constants, making for each operand the type of a
    constant of unknown value by trying to make a literal of it and catching the error; and
    it wraps each implementation it calls after asking `inspect` for the implementation's
    signature (whether it takes `loc`). The type of the unknown value is made once here, and
    each implementation's answer is remembered (kept as long as the implementation is)."""
    import weakref

    from numba.core import base, ir, lowering, types
    has_loc = base._has_loc
    if not getattr(has_loc, "remembered", False):
        known = weakref.WeakKeyDictionary()

        def _has_loc(fn):
            try:
                return known[fn]
            except (KeyError, TypeError):
                pass
            answer = has_loc(fn)
            try:
                known[fn] = answer
            except TypeError:            # not weakly referable: asked each time
                pass
            return answer
        _has_loc.remembered = True
        base._has_loc = _has_loc
    literal_or_omitted = lowering._lit_or_omitted
    if not getattr(literal_or_omitted, "undefined_first", False):
        undefined = types.Omitted(ir.UNDEFINED)     # what Numba makes of it: no literal of it exists

        def _lit_or_omitted(value):
            return undefined if value is ir.UNDEFINED else literal_or_omitted(value)
        _lit_or_omitted.undefined_first = True
        lowering._lit_or_omitted = _lit_or_omitted


def _intrinsic_typing() -> None:
    """Numba types each call of an intrinsic (the kernels' `ld`, `st`, `tk`, `watched`: World3
    has 4,700 such calls) by first looking up and refreshing the target's lowering registry
    (`_IntrinsicTemplate._get_target_registry`, which only a new signature needs, to register
    its lowering) and only then consulting its cache of signatures already typed. The cache
    is consulted first here: 0.5 s of World3's 8 s cold compile. The target context is
    refreshed at the start of every compile anyway (`CompilerBase`); a template this does
    not recognise is left as it is."""
    from numba.core.typing import templates
    template = getattr(templates, "_IntrinsicTemplate", None)
    original = getattr(template, "generic", None)
    if original is None or getattr(original, "cached_first", False):
        return

    def generic(self, args, kws):
        try:
            return self._impl_cache[self.context, args, tuple(kws.items())]
        except (KeyError, TypeError, AttributeError):
            return original(self, args, kws)
    generic.cached_first = True
    template.generic = generic


def _blas_probe() -> None:
    """Spare the first Numba call of a process its BLAS probe. Numba's first compile or
    cache load imports `numba.np.arraymath`, which asks whether BLAS is there by importing
    scipy.linalg: 0.4 s of CPU (scipy then imports most of numpy's submodules), more than
    the rest of loading World3 from the cache. No kernel uses linear algebra, so the
    module is imported here with the probe answered by whether scipy is installed, without
    importing it; numpy's linear algebra in a jitted function still finds scipy's BLAS when
    compiled (numba.np.linalg imports it then)."""
    if "numba.np.arraymath" in sys.modules:
        return
    import numba.np.linalg as linalg
    probe = linalg.ensure_blas

    def installed():
        if importlib.util.find_spec("scipy") is None:
            raise ImportError("scipy 0.16+ is required for linear algebra")
    linalg.ensure_blas = installed
    try:
        import numba.np.arraymath as arraymath
        arraymath.ensure_blas = probe
    finally:
        linalg.ensure_blas = probe


def drop_damaged_cache(err: BaseException) -> str | None:
    """When `err` (or an exception it carries) was raised reading a file of Numba's on-disk
    cache (truncated by a full disk, a killed process, a partial copy: the unpickling
    fails), remove that cache's index, so that Numba compiles the function again and
    rewrites its files. The index's path, else None (not a damaged cache file)."""
    caching = os.path.join("numba", "core", "caching.py")
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        tb, cache_file = err.__traceback__, None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name in ("_load_index", "_load_data") and code.co_filename.endswith(caching):
                cache_file = tb.tb_frame.f_locals.get("self")
            tb = tb.tb_next
        index = getattr(cache_file, "_index_path", None)
        if index is not None:
            try:
                os.remove(index)
            except FileNotFoundError:
                pass
            except OSError:
                return None
            return str(index)
        err = err.__cause__ or err.__context__
    return None


def remove_other_versions(key: str) -> None:
    """Remove the interpreter folders of other versions (earlier installs: 10 MB or more each,
    Numba's cache and the module compiled ahead of time) beside version `key`'s. A process
    still running an old version compiles what it needs again (Numba makes the folder anew)."""
    for old in folder().glob("interpreter-*"):
        if old.name != f"interpreter-{key}" and old.is_dir():
            gone = old.with_name(f".removed-{old.name}-{os.getpid()}")
            try:
                os.replace(old, gone)     # first out of the way, so no process sees half a folder
            except OSError:
                continue
            shutil.rmtree(gone, ignore_errors=True)


def load():
    """The interpreter module, compiled at most once per version (see `folder`);
    importing it compiles nothing until its first run."""
    key = version()
    name = f"smartspec_interpreter_{key}"
    if name in sys.modules:
        return sys.modules[name]
    path = folder() / f"interpreter-{key}" / "interpreter.py"
    source = (_HERE / "interpreter.py").read_bytes()
    try:
        intact = path.read_bytes() == source
    except OSError:
        intact = False
    if not intact:        # missing, or damaged (a partial copy): written again
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, source)
        remove_other_versions(key)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
