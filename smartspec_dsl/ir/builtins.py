"""The registry of Vensim builtin functions: one `Builtin` per function, with
its arity, the stage that implements it, the kernel helper the code generator
emits for it, its units rule and its documentation line.

Every pass asks this registry what a function is: `check_call` (arity, the
modeller's error), `order` (`CLOCKED`: functions of time), `codegen` (the
helper and how it is called), `units` (the units rule), and the README's
function table is generated from it (`markdown_table`). The semantics live in
the module of the stage: a kernel helper in `backend/kernel_lib.py`, a
rewrite into stocks in `passes/lower.py`, an expansion over elements in
`passes/subscripts.py`, a data file read in `frontend/external.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..errors import ModelError, UnsupportedFeature

# The stage that gives a function its meaning (where to look for its code).
KERNEL = "kernel"              # a kernel-library helper or math call (backend/kernel_lib.py)
BUFFER = "kernel buffer"       # state in the kernel's delay buffer (backend/codegen.py, kernel_extra.py)
LOWERING = "lowering"          # rewritten into stocks and auxiliaries (passes/lower.py)
FLATTENING = "flattening"      # expanded over subscript elements (passes/subscripts.py)
EXTERNAL = "external data"     # read from a data file at compile time (frontend/external.py)
EQUATION = "whole equation"    # makes its variable a stock (frontend/parse.py, passes/lower.py)

# How codegen writes a call of a KERNEL function: `helper(args)`, `helper(x, table)`,
# `helper(args, call site, step, run seed)`, or a branch of its own in `_Emitter.call`.
ARGS, LOOKUP, RANDOM_DRAW, OWN = "args", "lookup", "random", "own branch"

# Units rules (passes/units.py gives each its meaning).
SAME_AS_FIRST = "same as the first argument"
SAME_AS_SECOND = "same as the second argument"
ARGUMENTS_AGREE = "the arguments' (which must agree)"
CHOICE = "the two choices' (which must agree)"
DIMENSIONLESS = "dimensionless"
RATIO = "first argument / second argument"
SQUARE_ROOT = "square root of the argument's"
POWER_OF = "first argument ^ second argument (a number)"
TIMES_TIME = "first argument x time"
PER_TIME = "1 / time"
OF_TABLE = "the lookup's declared units"
UNCHECKED = "not checked"


@dataclass(frozen=True)
class Builtin:
    """One Vensim function. `args` (least, most) is None where the stage that
    implements it checks its arguments (array and data functions); `helper` is
    the kernel-library function (or math call) codegen emits; `time_argument`
    says the second argument is a time (units: it must have the model's time
    unit); `clocked` says its value changes with time when its arguments do not."""
    name: str
    args: tuple[int, int] | None
    stage: str
    doc: str
    units: str = UNCHECKED
    helper: str = ""
    emit: str = ""
    time_argument: bool = False
    clocked: bool = False


def _kernel(name, args, helper, doc, units=UNCHECKED, emit=ARGS, clocked=False):
    return Builtin(name, args, KERNEL, doc, units, helper, emit, clocked=clocked)


def _lowered(name, args, doc, units=UNCHECKED, time_argument=False, stage=LOWERING):
    return Builtin(name, args, stage, doc, units, time_argument=time_argument)


def _random(name, args, helper, doc, emit=RANDOM_DRAW):
    return Builtin(name, args, KERNEL, doc, UNCHECKED, helper, emit, clocked=True)


_ALL = [
    # ---- arithmetic and logic
    _kernel("ABS", (1, 1), "abs", "absolute value", SAME_AS_FIRST),
    _kernel("EXP", (1, 1), "math.exp", "e to the power x", DIMENSIONLESS),
    _kernel("LN", (1, 1), "math.log", "natural logarithm", DIMENSIONLESS),
    _kernel("LOG", (1, 2), "log2", "LOG(x, base): logarithm to a base; LOG(x) base 10", DIMENSIONLESS, OWN),
    _kernel("SQRT", (1, 1), "math.sqrt", "square root", SQUARE_ROOT),
    _kernel("SIN", (1, 1), "math.sin", "sine (radians)", DIMENSIONLESS),
    _kernel("COS", (1, 1), "math.cos", "cosine (radians)", DIMENSIONLESS),
    _kernel("TAN", (1, 1), "math.tan", "tangent (radians)", DIMENSIONLESS),
    _kernel("ARCSIN", (1, 1), "math.asin", "inverse sine", DIMENSIONLESS),
    _kernel("ARCCOS", (1, 1), "math.acos", "inverse cosine", DIMENSIONLESS),
    _kernel("ARCTAN", (1, 1), "math.atan", "inverse tangent", DIMENSIONLESS),
    _kernel("SINH", (1, 1), "math.sinh", "hyperbolic sine", DIMENSIONLESS),
    _kernel("COSH", (1, 1), "math.cosh", "hyperbolic cosine", DIMENSIONLESS),
    _kernel("TANH", (1, 1), "math.tanh", "hyperbolic tangent", DIMENSIONLESS),
    _kernel("MIN", (2, 2), "fmin", "the smaller of two values", ARGUMENTS_AGREE),
    _kernel("MAX", (2, 2), "fmax", "the larger of two values", ARGUMENTS_AGREE),
    _kernel("INTEGER", (1, 1), "integer", "truncation towards zero", SAME_AS_FIRST),
    _kernel("MODULO", (2, 2), "modulo", "remainder of a / b, with the sign of b", SAME_AS_FIRST),
    _kernel("QUANTUM", (2, 2), "quantum", "QUANTUM(x, q): x rounded down to a multiple of q", SAME_AS_FIRST),
    _kernel("XIDZ", (3, 3), "fxidz", "XIDZ(a, b, x): a / b, or x when b is 0", RATIO),
    _kernel("ZIDZ", (2, 2), "fzidz", "ZIDZ(a, b): a / b, or 0 when b is 0", RATIO),
    _kernel("IF THEN ELSE", (3, 3), "sel", "IF THEN ELSE(condition, then, else)", CHOICE),
    _kernel("POWER", (2, 2), "power", "POWER(a, b): a to the power b", POWER_OF),
    _kernel("GAME", (1, 1), "", "GAME(x): x (a gaming input keeps its equation's value)", SAME_AS_FIRST),
    # ---- time
    _kernel("STEP", (2, 2), "fstep", "STEP(height, start): 0 before start, height from start on",
            SAME_AS_FIRST, OWN, clocked=True),
    _kernel("RAMP", (3, 3), "ramp", "RAMP(slope, start, end): slope x (Time - start) between start and end",
            TIMES_TIME, OWN, clocked=True),
    _kernel("PULSE", (2, 2), "pulse", "PULSE(start, width): 1 from start for width, else 0",
            DIMENSIONLESS, OWN, clocked=True),
    _kernel("PULSE TRAIN", (4, 4), "pulse_train",
            "PULSE TRAIN(start, width, between, end): a pulse every `between` until end",
            DIMENSIONLESS, OWN, clocked=True),
    # ---- lookups
    _kernel("WITH LOOKUP", (2, 2), "lookup", "WITH LOOKUP(x, (table)): an inline lookup table", emit=OWN),
    _kernel("LOOKUP FORWARD", (2, 2), "lookup_forward",
            "LOOKUP FORWARD(table, x): the y of the next x point at or after x", OF_TABLE, LOOKUP),
    _kernel("LOOKUP BACKWARD", (2, 2), "lookup_backward",
            "LOOKUP BACKWARD(table, x): the y of the last x point at or before x", OF_TABLE, LOOKUP),
    _kernel("LOOKUP EXTRAPOLATE", (2, 2), "lookup_extrapolate",
            "LOOKUP EXTRAPOLATE(table, x): interpolation, extended linearly beyond the table", OF_TABLE, LOOKUP),
    _kernel("LOOKUP INVERT", (2, 2), "lookup_invert",
            "LOOKUP INVERT(table, y): the x at which a monotonic table gives y", emit=LOOKUP),
    # ---- random numbers (counter-based: a draw depends on seed, call site and time step only)
    _random("RANDOM 0 1", (0, 0), "random_uniform", "uniform on [0, 1]"),
    _random("RANDOM UNIFORM", (3, 3), "random_uniform", "RANDOM UNIFORM(min, max, seed)"),
    _random("RANDOM NORMAL", (5, 5), "random_normal", "RANDOM NORMAL(min, max, mean, sd, seed), truncated"),
    _random("RANDOM EXPONENTIAL", (5, 5), "random_exponential",
            "RANDOM EXPONENTIAL(min, max, shift, stretch, seed)"),
    _random("RANDOM LOGNORMAL", (5, 5), "random_lognormal", "RANDOM LOGNORMAL(min, max, mean, sd, seed)"),
    _random("RANDOM TRIANGULAR", (6, 6), "random_triangular",
            "RANDOM TRIANGULAR(min, max, start, peak, end, seed)"),
    _random("RANDOM POISSON", (6, 6), "random_poisson", "RANDOM POISSON(min, max, mean, shift, stretch, seed)"),
    _random("RANDOM GAMMA", (6, 6), "random_gamma", "RANDOM GAMMA(min, max, order, shift, stretch, seed)"),
    _random("RANDOM WEIBULL", (6, 6), "random_weibull", "RANDOM WEIBULL(min, max, shape, shift, stretch, seed)"),
    _random("RANDOM BETA", (7, 7), "random_beta", "RANDOM BETA(min, max, alpha, beta, shift, stretch, seed)"),
    _random("RANDOM BINOMIAL", (7, 7), "random_binomial",
            "RANDOM BINOMIAL(min, max, probability, trials, shift, stretch, seed)"),
    _random("RANDOM NEGATIVE BINOMIAL", (7, 7), "random_negative_binomial",
            "RANDOM NEGATIVE BINOMIAL(min, max, probability, successes, shift, stretch, seed)"),
    _random("RANDOM LOOKUP", (6, 6), "random_lookup",
            "RANDOM LOOKUP(table, min, max, shift, stretch, seed): a draw from the table as a density",
            emit=OWN),
    # ---- stateful: rewritten into stocks by passes/lower.py
    _lowered("DELAY1", (2, 2), "first-order material delay", SAME_AS_FIRST, True),
    _lowered("DELAY1I", (3, 3), "DELAY1 with an initial value", SAME_AS_FIRST, True),
    _lowered("DELAY3", (2, 2), "third-order material delay (three stocks in series)", SAME_AS_FIRST, True),
    _lowered("DELAY3I", (3, 3), "DELAY3 with an initial value", SAME_AS_FIRST, True),
    _lowered("DELAY N", (4, 4), "DELAY N(input, delay, initial, n): n-th order material delay",
             SAME_AS_FIRST, True),
    _lowered("SMOOTH", (2, 2), "first-order exponential smooth", SAME_AS_FIRST, True),
    _lowered("SMOOTHI", (3, 3), "SMOOTH with an initial value", SAME_AS_FIRST, True),
    _lowered("SMOOTH3", (2, 2), "third-order exponential smooth", SAME_AS_FIRST, True),
    _lowered("SMOOTH3I", (3, 3), "SMOOTH3 with an initial value", SAME_AS_FIRST, True),
    _lowered("SMOOTH N", (4, 4), "SMOOTH N(input, time, initial, n): n-th order smooth", SAME_AS_FIRST, True),
    _lowered("TREND", (3, 3), "TREND(input, average time, initial trend): fractional growth rate",
             PER_TIME, True),
    _lowered("FORECAST", (3, 3), "FORECAST(input, average time, horizon): trend extrapolation",
             SAME_AS_FIRST, True),
    _lowered("NPV", (4, 4), "NPV(stream, discount rate, initial value, factor): net present value"),
    _lowered("SAMPLE IF TRUE", (3, 3), "SAMPLE IF TRUE(condition, input, initial): input held while false",
             SAME_AS_SECOND),
    _lowered("INITIAL", (1, 1), "the argument's value at the initial time", SAME_AS_FIRST),
    _lowered("ACTIVE INITIAL", (2, 2), "ACTIVE INITIAL(active, initial): a different equation at the initial time",
             SAME_AS_FIRST),
    _lowered("RANDOM PINK NOISE", (4, 4), "RANDOM PINK NOISE(mean, sd, correlation time, seed)"),
    _lowered("DEPRECIATE STRAIGHTLINE", (4, 4),
             "DEPRECIATE STRAIGHTLINE(input, life, period, initial): each period's input written off evenly"),
    _lowered("GET TIME VALUE", (3, 3), "GET TIME VALUE(relative to, offset, 0): the model time"),
    _lowered("GET DATA BETWEEN TIMES", (3, 3), "GET DATA BETWEEN TIMES(data, time, mode): a data value at a time"),
    _lowered("GET DATA AT TIME", (2, 2), "GET DATA AT TIME(data, time): a data value at a time"),
    _lowered("DELAY FIXED", (3, 3), "DELAY FIXED(input, delay, initial): pipeline delay",
             SAME_AS_FIRST, True, stage=BUFFER),
    _lowered("DELAY MATERIAL", (4, 4), "DELAY MATERIAL(input, delay, initial, missing): a pipeline whose delay may vary",
             stage=BUFFER),
    Builtin("INTEG", None, EQUATION, "INTEG(rate, initial): a stock"),
    Builtin("SINTEG", None, EQUATION, "SINTEG(rate, initial, min, max, quantum, special, threshold): a restricted stock"),
    # ---- arrays: expanded over elements by passes/subscripts.py
    Builtin("SUM", None, FLATTENING, "sum over a subscript range", SAME_AS_FIRST),
    Builtin("PROD", None, FLATTENING, "product over a subscript range"),
    Builtin("VMIN", None, FLATTENING, "minimum over a subscript range", SAME_AS_FIRST),
    Builtin("VMAX", None, FLATTENING, "maximum over a subscript range", SAME_AS_FIRST),
    Builtin("ELMCOUNT", None, FLATTENING, "number of elements of a range", DIMENSIONLESS),
    Builtin("VECTOR SELECT", None, FLATTENING, "sum, product, minimum, maximum or value of the selected elements"),
    Builtin("VECTOR ELM MAP", None, FLATTENING, "the element at an offset from the element's position"),
    Builtin("VECTOR SORT ORDER", None, FLATTENING, "the positions that sort a vector"),
    Builtin("VECTOR RANK", None, FLATTENING, "the rank of each element"),
    Builtin("VECTOR REORDER", None, FLATTENING, "a vector in the order of a sort order"),
    Builtin("ALLOCATE BY PRIORITY", None, FLATTENING, "supply shared by priority (rectangular profiles)"),
    Builtin("ALLOCATE AVAILABLE", None, FLATTENING, "supply shared by priority profiles"),
    Builtin("INVERT MATRIX", None, FLATTENING, "the inverse of a square matrix"),
    # ---- data files, read at compile time by frontend/external.py
    Builtin("GET XLS CONSTANTS", None, EXTERNAL, "constants from a spreadsheet"),
    Builtin("GET DIRECT CONSTANTS", None, EXTERNAL, "constants from a .csv/.tab file or spreadsheet"),
    Builtin("GET XLS LOOKUPS", None, EXTERNAL, "a lookup table from a spreadsheet"),
    Builtin("GET DIRECT LOOKUPS", None, EXTERNAL, "a lookup table from a .csv/.tab file or spreadsheet"),
    Builtin("GET XLS DATA", None, EXTERNAL, "a data series from a spreadsheet"),
    Builtin("GET DIRECT DATA", None, EXTERNAL, "a data series from a .csv/.tab file or spreadsheet"),
    Builtin("GET XLS SUBSCRIPT", None, EXTERNAL, "a range's elements from a spreadsheet"),
    Builtin("GET DIRECT SUBSCRIPT", None, EXTERNAL, "a range's elements from a .csv/.tab file or spreadsheet"),
]

BUILTINS: dict[str, Builtin] = {b.name: b for b in _ALL}
assert len(BUILTINS) == len(_ALL), "a function is registered twice"

# Views the passes read.
ARITY = {n: b.args for n, b in BUILTINS.items() if b.args is not None and b.stage != EXTERNAL}
CLOCKED = {n for n, b in BUILTINS.items() if b.clocked}
ARRAY = {n for n, b in BUILTINS.items() if b.stage == FLATTENING}
WHOLE_EQUATION = {n for n, b in BUILTINS.items() if b.stage == EQUATION}
# Functions whose first argument names a lookup; anywhere else a lookup's name alone is an
# error (Vensim's "lookup used as a variable").
TAKES_LOOKUP = {n for n, b in BUILTINS.items() if b.emit == LOOKUP} | {"RANDOM LOOKUP"}


def helpers(emit: str) -> dict[str, str]:
    """{function: kernel helper} of the KERNEL functions codegen writes in one way (ARGS, LOOKUP, ...)."""
    return {n: b.helper for n, b in BUILTINS.items() if b.stage == KERNEL and b.emit == emit}


def units_rules() -> dict[str, str]:
    """{function: units rule} of every function whose units are checked."""
    return {n: b.units for n, b in BUILTINS.items() if b.units != UNCHECKED}


def markdown_table() -> str:
    """The README's function table: every registered function, grouped by stage."""
    lines = ["| function | arguments | implemented by | units of the result | what it gives |",
             "|---|---|---|---|---|"]
    for b in _ALL:
        if b.args is None:
            args = "-"
        else:
            args = str(b.args[0]) if b.args[0] == b.args[1] else f"{b.args[0]}-{b.args[1]}"
        where = f"{b.stage} (`{b.helper}`)" if b.stage == KERNEL and b.helper else b.stage
        units = b.units + ("; 2nd argument a time" if b.time_argument else "")
        lines.append(f"| {b.name} | {args} | {where} | {units} | {b.doc} |")
    return "\n".join(lines) + "\n"


# Known Vensim functions that later work will add (named so the error says "not supported yet"),
# and the data functions, which only the external-data reader may consume.
KNOWN_UNSUPPORTED = {"TIME BASE", "A FUNCTION OF", "TABBED ARRAY"} | {
    n for n, b in BUILTINS.items() if b.stage == EXTERNAL and not n.endswith(" SUBSCRIPT")}


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
    arity = ARITY.get(f) or ARRAY_READS.get(f)
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
