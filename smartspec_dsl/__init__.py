"""smartspec: a compiler for Vensim-style system dynamics models to Numba kernels."""
from .errors import ModelError

__all__ = ["load", "read_vensim", "sweep", "Model", "Result", "ModelError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The runtime (numpy, numba) is imported on first use, not with the package: the
    # command line must be able to answer Ctrl-C as one line from its first instant.
    if name in ("load", "Model", "Result"):
        from . import runtime
        return getattr(runtime, name)
    if name in ("read_vensim", "read_xmile"):
        # PySD's names for loading a model: `load` reads either format
        from . import runtime
        return runtime.load
    if name == "sweep":
        from .experiments.sweep import sweep
        return sweep
    raise AttributeError(f"module 'smartspec_dsl' has no attribute {name!r}")
