"""smartspec: a compiler for Vensim-style system dynamics models to Numba kernels."""
from .errors import ModelError
from .runtime import Model, Result, load

__all__ = ["load", "Model", "Result", "ModelError"]
__version__ = "0.1.0"
