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
    "RANDOM LOOKUP": (6, 6), "GAMMA LN": (1, 1), "LOOKUP AREA": (3, 3),
}

# Random functions draw anew every time step (see kernel_lib: counter-based draws).
RANDOM = {f for f in PURE if f.startswith("RANDOM ")}

STATEFUL = {
    "DELAY1": (2, 2), "DELAY1I": (3, 3), "DELAY3": (2, 2), "DELAY3I": (3, 3),
    "DELAY N": (4, 4), "DELAY FIXED": (3, 3), "SMOOTH": (2, 2), "SMOOTHI": (3, 3),
    "SMOOTH3": (2, 2), "SMOOTH3I": (3, 3), "SMOOTH N": (4, 4), "TREND": (3, 3),
    "FORECAST": (3, 3), "NPV": (4, 4), "SAMPLE IF TRUE": (3, 3), "INITIAL": (1, 1),
    "ACTIVE INITIAL": (2, 2), "DELAY MATERIAL": (4, 4), "RANDOM PINK NOISE": (4, 4),
    "DEPRECIATE STRAIGHTLINE": (4, 4), "NPVE": (4, 4), "DELAYP": (2, 2),
    "DELAY INFORMATION": (3, 3),
}

# Rewritten by `lower` into other functions, though they keep no state of their own.
LOWERED = {
    "GET TIME VALUE": (3, 3), "GET DATA BETWEEN TIMES": (3, 3), "GET DATA AT TIME": (2, 2),
    "GET DATA FIRST TIME": (1, 1), "GET DATA LAST TIME": (1, 1), "GET DATA TOTAL POINTS": (1, 1),
    "GET DATA MAX": (3, 3), "GET DATA MIN": (3, 3), "GET DATA MEAN": (3, 3),
    "TIME SHIFT": (2, 2), "CUMULATE": (1, 1), "CUMULATEF": (1, 1),
}

# Functions that must be the whole equation of a variable (they make it a stock).
WHOLE_EQUATION = {"INTEG", "SINTEG"}

# Functions whose value changes with time even when their arguments do not.
CLOCKED = {"STEP", "RAMP", "PULSE", "PULSE TRAIN"} | RANDOM

# Read from files when the model is compiled (external.py): they never reach lowering
# except where misplaced.
EXTERNAL = {"GET XLS DATA", "GET DIRECT DATA", "GET XLS CONSTANTS", "GET DIRECT CONSTANTS",
            "GET XLS LOOKUPS", "GET DIRECT LOOKUPS", "GET XLS SUBSCRIPT", "GET DIRECT SUBSCRIPT"}

# Every function of Vensim's reference ("List of Functions") smartspec does not run, and why
# (empty: not done yet). The README's function table is checked against this and the tables above.
NOT_SUPPORTED = {
    "A FUNCTION OF": "Vensim's placeholder for an equation not written yet: there is nothing to compute",
    "MESSAGE": "shows a message in Vensim's user interface during the run",
    "GET VDF CONSTANTS": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET VDF DATA": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET VDF LOOKUPS": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET 123 CONSTANTS": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS CONSTANTS",
    "GET 123 DATA": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS DATA",
    "GET 123 LOOKUPS": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS LOOKUPS",
    "SIMULTANEOUS": "solves an algebraic loop by iteration inside the step",
    "FIND ZERO": "searches for a root inside the step",
    "SHIFT IF TRUE": "changes the stored values of another variable, which one-equation-per-variable "
                     "kernels cannot express",
    "TIME BASE": "",
    "DELAY BATCH": "",
    "DELAY CONVEYOR": "",
    "DELAY PROFILE": "",
    "QUEUE FIFO": "keeps every entry's age",
    "QUEUE FIFO ATTRIB": "keeps every entry's age",
    "QUEUE ATTRIB": "keeps every entry's age",
    "QUEUE AGE AVERAGE": "keeps every entry's age",
    "QUEUE AGE IN RANGE": "keeps every entry's age",
    "QUEUE AGE OLDEST": "keeps every entry's age",
    "FIND MARKET PRICE": "",
    "MARKETP": "",
    "ALLOC P": "",
    "DEMAND AT PRICE": "",
    "SUPPLY AT PRICE": "",
    "DEPRECIATE BY SCHEDULE": "",
    "TABBED ARRAY": "only as the whole right-hand side of a constant (x[A] = TABBED ARRAY(...))",
}
# ... and of those, the ones that are outside what a compiled run can do
NEVER_SUPPORTED = {"A FUNCTION OF", "MESSAGE", "GET VDF CONSTANTS", "GET VDF DATA", "GET VDF LOOKUPS",
                   "GET 123 CONSTANTS", "GET 123 DATA", "GET 123 LOOKUPS", "TABBED ARRAY"}


# Array functions: the subscript pass (subscripts.py) expands them into the calls below.
ARRAY = {"SUM", "PROD", "VMIN", "VMAX", "ELMCOUNT", "VECTOR SELECT", "VECTOR ELM MAP",
         "VECTOR SORT ORDER", "VECTOR RANK", "VECTOR REORDER", "ALLOCATE BY PRIORITY",
         "ALLOCATE AVAILABLE", "INVERT MATRIX", "VECTOR LOOKUP"}

# Calls the subscript pass introduces ('@' keeps them apart from Vensim's names). A driver
# computes a whole vector into a scratch block of the kernel's state: name -> (kernel_lib
# helper, number of scalar arguments before the vector).
ARRAY_DRIVERS = {"@PACK": ("", 0), "@VECTOR RANK": ("vector_rank", 1),
                 "@VECTOR SORT ORDER": ("vector_sort_order", 1),
                 "@ALLOCATE AVAILABLE": ("allocate_available", 1),
                 "@ALLOCATE BY PRIORITY": ("allocate_by_priority", 2),
                 "@INVERT MATRIX": ("invert_matrix", 0)}
# Reads of a driver's block: @ELEMENT(driver, k), @AT(driver, n, index), @VSELECT(driver, n, missing,
# action), @VLOOKUP(driver, n, x, xmin, xmax, mode)
ARRAY_READS = {"@ELEMENT": (2, 2), "@AT": (3, 3), "@VSELECT": (4, 4), "@VLOOKUP": (6, 6)}


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
        raise UnsupportedFeature(f"{node.pos}: {unknown_function_message(f)}")
    lo, hi = arity
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"{node.pos}: {f} takes {want} arguments, got {len(node.args)}")


def unknown_function_message(f: str) -> str:
    """What to tell the modeller about a call to `f` (canonical upper case) that is neither
    a function smartspec runs, nor a macro or lookup of the model."""
    if f in NOT_SUPPORTED:
        why = NOT_SUPPORTED[f]
        if f in NEVER_SUPPORTED:
            return f"Vensim function {f} is not supported by smartspec: {why}"
        return f"Vensim function {f} is not supported by smartspec yet" + (f" ({why})" if why else "")
    return f"'{f}' is not a Vensim function, nor a macro or lookup defined in this model"


def known_function(f: str) -> bool:
    """A function the compiler runs (maybe only in some places), by canonical name."""
    return (f in PURE or f in STATEFUL or f in LOWERED or f in ARRAY or f in WHOLE_EQUATION
            or f in EXTERNAL or f in ARRAY_READS or f in ARRAY_DRIVERS)


def unsupported_calls(model: ir.Model) -> list[str]:
    """One message per call (file:line:col first) of a function the model neither defines
    (macro, lookup) nor smartspec runs: all of them, so the modeller sees the whole list at once."""
    defined = set(model.macros) | set(model.variables)   # macros, and lookups called by name
    out: list[str] = []
    seen: set = set()

    def scan(e, owner: str) -> None:
        if e is None or isinstance(e, (ir.LookupTable, tuple)):
            return
        for node in ir.walk(e):
            if isinstance(node, ir.Call) and not known_function(node.func) \
                    and ir.canonical_name(node.func) not in defined:
                key = (str(node.pos), node.func)
                if key not in seen:
                    seen.add(key)
                    out.append(f"{node.pos}: {unknown_function_message(node.func)} "
                               f"(in the equation of '{owner}')")

    variables = list(model.variables.values()) + [v for m in model.macros.values() for v in m.variables]
    for var in variables:
        scan(var.expr, var.display)
        scan(var.initial, var.display)
        for d in var.definitions:
            scan(d.expr, var.display)
            scan(d.lookup, var.display)
            for row in d.rows:
                for x in row:
                    scan(x, var.display)
    return sorted(out, key=_position_order)


def _position_order(message: str):
    parts = message.split(": ", 1)[0].rsplit(":", 2)
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return message, 0, 0
