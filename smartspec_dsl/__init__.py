"""smartspec: a compiler for Vensim-style system dynamics models to Numba kernels."""
from .errors import ModelError
from .experiments.sweep import sweep
from .runtime import Model, Result, load

__all__ = ["load", "sweep", "Model", "Result", "ModelError"]
__version__ = "0.1.0"
