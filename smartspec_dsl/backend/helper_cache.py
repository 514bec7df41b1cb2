"""Numba's on-disk cache of the package's jitted helpers, keyed on what their machine code
is made of.

Numba keys a cached function on the text of its own file only, yet the machine code also
holds the constants the function reads from other files (solve_layout.MAX_PASSES,
ir.constants.NA_VALUE: a global is frozen in when compiled) and the code of the helpers of
other files it calls (inlined). A module that defines cached helpers imports this one
first: the cache of every function defined in one of `tier0.SOURCES` is then keyed on
`tier0.version()`, a hash of all of them, and stays where Numba would keep it."""
from __future__ import annotations

from numba.core import caching

from . import tier0

# the list of locators Numba tries in turn (CacheImpl; _CacheImpl before Numba 0.61)
_LOCATORS = getattr(caching, "CacheImpl", getattr(caching, "_CacheImpl", None))._locator_classes


class HelperStamp(caching._CacheLocator):
    """Numba's own locator for the function (the cache folder it picks, by its rules and
    NUMBA_CACHE_DIR), with the stamp an index is checked against replaced by
    `tier0.version()`."""

    def __init__(self, inner):
        self._inner = inner

    def ensure_cache_path(self):
        self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return tier0.version()

    def get_disambiguator(self):
        return self._inner.get_disambiguator()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not tier0.stamped(py_file):
            return None
        for other in _LOCATORS:
            inner = None if other is cls else other.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None


if HelperStamp not in _LOCATORS:
    _LOCATORS.insert(0, HelperStamp)
