"""The Vensim builtin functions smartspec knows: their arity, and which ones
read the clock. Code generation for each lives in `codegen`; stateful ones
are rewritten by `lower`."""
from __future__ import annotations

from . import ir
from .errors import ModelError, UnsupportedFeature

# name -> (min args, max args)
PURE = {
    "ABS": (1, 1), "EXP": (1, 1), "LN": (1, 1), "LOG": (1, 2), "SQRT": (1, 1),
    "SIN": (1, 1), "COS": (1, 1), "TAN": (1, 1), "ARCSIN": (1, 1), "ARCCOS": (1, 1),
    "ARCTAN": (1, 1), "SINH": (1, 1), "COSH": (1, 1), "TANH": (1, 1),
    "MIN": (2, 2), "MAX": (2, 2), "INTEGER": (1, 1), "MODULO": (2, 2), "QUANTUM": (2, 2),
    "XIDZ": (3, 3), "ZIDZ": (2, 2), "IF THEN ELSE": (3, 3), "POWER": (2, 2),
    "STEP": (2, 2), "RAMP": (3, 3), "PULSE": (2, 2), "PULSE TRAIN": (4, 4),
    "WITH LOOKUP": (2, 2), "LOOKUP FORWARD": (2, 2), "LOOKUP BACKWARD": (2, 2),
    "LOOKUP EXTRAPOLATE": (2, 2), "LOOKUP INVERT": (2, 2), "GAME": (1, 1),
    "RANDOM 0 1": (0, 0), "RANDOM UNIFORM": (3, 3), "RANDOM NORMAL": (5, 5),
    "RANDOM EXPONENTIAL": (5, 5), "RANDOM LOGNORMAL": (5, 5), "RANDOM TRIANGULAR": (6, 6),
    "RANDOM POISSON": (6, 6), "RANDOM GAMMA": (6, 6), "RANDOM WEIBULL": (6, 6),
    "RANDOM BETA": (7, 7), "RANDOM BINOMIAL": (7, 7), "RANDOM NEGATIVE BINOMIAL": (7, 7),
    "RANDOM LOOKUP": (6, 6),
}

# Functions whose first argument names a lookup (anywhere else a lookup's name alone is an
# error: Vensim's "lookup used as a variable").
TAKES_LOOKUP = {"LOOKUP FORWARD", "LOOKUP BACKWARD", "LOOKUP EXTRAPOLATE", "LOOKUP INVERT",
                "RANDOM LOOKUP", "LOOKUP AREA"}

# Random functions draw anew every time step (see kernel_lib: counter-based draws).
RANDOM = {f for f in PURE if f.startswith("RANDOM ")}

STATEFUL = {
    "DELAY1": (2, 2), "DELAY1I": (3, 3), "DELAY3": (2, 2), "DELAY3I": (3, 3),
    "DELAY N": (4, 4), "DELAY FIXED": (3, 3), "SMOOTH": (2, 2), "SMOOTHI": (3, 3),
    "SMOOTH3": (2, 2), "SMOOTH3I": (3, 3), "SMOOTH N": (4, 4), "TREND": (3, 3),
    "FORECAST": (3, 3), "NPV": (4, 4), "SAMPLE IF TRUE": (3, 3), "INITIAL": (1, 1),
    "ACTIVE INITIAL": (2, 2), "DELAY MATERIAL": (4, 4), "RANDOM PINK NOISE": (4, 4),
    "DEPRECIATE STRAIGHTLINE": (4, 4),
}

# Rewritten by `lower` into other functions, though they keep no state of their own.
LOWERED = {
    "GET TIME VALUE": (3, 3), "GET DATA BETWEEN TIMES": (3, 3), "GET DATA AT TIME": (2, 2),
}

# Functions that must be the whole equation of a variable (they make it a stock).
WHOLE_EQUATION = {"INTEG", "SINTEG"}

# Functions whose value changes with time even when their arguments do not.
CLOCKED = {"STEP", "RAMP", "PULSE", "PULSE TRAIN"} | RANDOM

# Known Vensim functions that later work will add (named so the error says "not supported yet").
KNOWN_UNSUPPORTED = {
    "GET XLS DATA", "GET DIRECT DATA", "GET XLS CONSTANTS",
    "GET DIRECT CONSTANTS", "GET XLS LOOKUPS", "GET DIRECT LOOKUPS",
    "TIME BASE", "A FUNCTION OF", "TABBED ARRAY",
}


# Array functions: the subscript pass (subscripts.py) expands them into the calls below.
ARRAY = {"SUM", "PROD", "VMIN", "VMAX", "ELMCOUNT", "VECTOR SELECT", "VECTOR ELM MAP",
         "VECTOR SORT ORDER", "VECTOR RANK", "VECTOR REORDER", "ALLOCATE BY PRIORITY",
         "ALLOCATE AVAILABLE", "INVERT MATRIX"}

# Calls the subscript pass introduces ('@' keeps them apart from Vensim's names). A driver
# computes a whole vector into a scratch block of the kernel's state: name -> (kernel_lib
# helper, number of scalar arguments before the vector).
ARRAY_DRIVERS = {"@PACK": ("", 0), "@VECTOR RANK": ("vector_rank", 1),
                 "@VECTOR SORT ORDER": ("vector_sort_order", 1),
                 "@ALLOCATE AVAILABLE": ("allocate_available", 1),
                 "@ALLOCATE BY PRIORITY": ("allocate_by_priority", 2),
                 "@INVERT MATRIX": ("invert_matrix", 0)}
# Reads of a driver's block: @ELEMENT(driver, k), @AT(driver, n, index), @VSELECT(driver, n, missing, action)
ARRAY_READS = {"@ELEMENT": (2, 2), "@AT": (3, 3), "@VSELECT": (4, 4)}


def check_call(node: ir.Call) -> None:
    """Raise a precise error for an unknown function or a wrong argument count."""
    f = node.func
    arity = PURE.get(f) or STATEFUL.get(f) or LOWERED.get(f) or ARRAY_READS.get(f)
    if f in ARRAY_DRIVERS:
        arity = (0, len(node.args))
    if arity is None and f in ARRAY:
        raise UnsupportedFeature(f"{node.pos}: function '{f}' is not supported without subscripts: "
                                 "it works on subscripted variables, and this model has none")
    if arity is None:
        if f in WHOLE_EQUATION:
            raise ModelError(f"{node.pos}: {f} must be the whole equation of a stock")
        if f == "A FUNCTION OF":
            raise UnsupportedFeature(f"{node.pos}: A FUNCTION OF is Vensim's placeholder for an equation "
                                     "not written yet: write the equation to run the model")
        if f.endswith(" LOOKUPS") and f.startswith("GET "):
            raise ModelError(f"{node.pos}: {f} defines a lookup table, so it must be the whole "
                             f"equation: write 'table = {f}(...)' and use table(x)")
        what = "is not supported yet" if f in KNOWN_UNSUPPORTED else "is not a known function or lookup"
        raise UnsupportedFeature(f"{node.pos}: function '{f}' {what}")
    lo, hi = arity
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"{node.pos}: {f} takes {want} arguments, got {len(node.args)}")
