"""The runtime layer: a compiled model (`Model`), its results (`Result`) and
`load`, which runs the compiler's passes once and keeps the kernel in an
on-disk cache."""
from .loader import cache_root, compile_model, load
from .model import Model
from .result import BatchResult, Result, VariableInfo

__all__ = ["BatchResult", "Model", "Result", "VariableInfo", "cache_root", "compile_model", "load"]
