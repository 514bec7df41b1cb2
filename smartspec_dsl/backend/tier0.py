"""Loading the interpreter tier (backend/interpreter.py) with a cache that is never stale.

Numba's on-disk cache is keyed on the file that defines a function, not on the
helpers it calls (the kernel library), so the interpreter is imported from a
copy of its source in a folder named by a hash of the whole back end and
Numba's version, as generated kernels are: a changed helper gets a freshly
compiled interpreter, an unchanged install loads the machine code from disk.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from ..files import write_bytes

_HERE = Path(__file__).resolve().parent
# what the interpreter's machine code is made of
_SOURCES = ("interpreter.py", "tape.py", "kernel_lib.py", "kernel_intrinsics.py", "kernel_random.py",
            "kernel_extra.py", "kernel_market.py")


def version() -> str:
    """A hash of the interpreter's sources and Numba's version."""
    import numba
    h = hashlib.sha256(numba.__version__.encode())
    for name in _SOURCES:
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()[:20]


def folder() -> Path:
    """Where the interpreter's machine code is kept: the package's __pycache__ (once per
    install), else, when that is not writable, the user's cache directory
    ($SMARTSPEC_INTERPRETER_CACHE overrides both). Not the kernel cache: that one
    is per model (and per test session)."""
    env = os.environ.get("SMARTSPEC_INTERPRETER_CACHE")
    if env:
        return Path(env)
    own = _HERE / "__pycache__"
    try:
        own.mkdir(exist_ok=True)
        if os.access(own, os.W_OK):
            return own
    except OSError:
        pass
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smartspec-interpreter"


def load():
    """The interpreter module, compiled at most once per version (see `folder`);
    importing it compiles nothing until its first run."""
    key = version()
    name = f"smartspec_interpreter_{key}"
    if name in sys.modules:
        return sys.modules[name]
    path = folder() / f"interpreter-{key}" / "interpreter.py"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, (_HERE / "interpreter.py").read_bytes())
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
