"""The runtime layer: a compiled model (`Model`), its results (`Result`) and
`load`, which runs the compiler's passes once and keeps the kernel in an
on-disk cache."""
from .model import BatchResult, Model, Result, VariableInfo, cache_root, compile_model, load

__all__ = ["BatchResult", "Model", "Result", "VariableInfo", "cache_root", "compile_model", "load"]
