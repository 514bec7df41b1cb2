"""The registry of Vensim builtin functions: one `Builtin` per function, with
its arity, the stage that implements it, the kernel helper the code generator
emits for it, its units rule and its documentation line.

Every pass asks this registry what a function is: `check_call` (arity, the
modeller's error), `order` (`CLOCKED`: functions of time), `codegen` (the
helper and how it is called), `units` (the units rule), and the README's
function table is generated from it (`markdown_table`). The semantics live in
the module of the stage: a kernel helper in `backend/kernel_lib.py`, a
rewrite into stocks in `passes/stateful/`, an expansion over elements in
`passes/subscripts.py`, a data file read in `frontend/external.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from .constants import XIDZ_EPS  # noqa: F401  (passes/consteval reads it from here)

# The stage that gives a function its meaning (where to look for its code).
KERNEL = "kernel"              # a kernel-library helper or math call (backend/kernel_lib.py)
BUFFER = "kernel buffer"       # state in the kernel's delay buffer (backend/emit.py, kernel_extra.py)
LOWERING = "lowering"          # rewritten into stocks and auxiliaries (passes/stateful/)
FLATTENING = "flattening"      # expanded over subscript elements (passes/array_functions.py)
EXTERNAL = "external data"     # read from a data file at compile time (frontend/external.py)
EQUATION = "whole equation"    # makes its variable a stock (frontend/parse.py, passes/stateful/integration.py)
SOLVED = "solved in the step"  # marks an algebraic loop solved by iteration (passes/solve.py, kernel_solve.py)

# How codegen writes a call of a KERNEL function: `helper(args)`, `helper(x, table)`,
# `helper(args, call site, step, run seed)`, or a branch of its own in `emit.Emitter.call`.
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
TIME_UNITS = "time"
OF_TABLE = "the lookup's declared units"
UNCHECKED = "not checked"


@dataclass(frozen=True)
class Buffer:
    """How the kernel keeps a BUFFER function's state, a ring buffer: `spans_run`, it
    holds the whole run (sized from INITIAL TIME, FINAL TIME and TIME STEP), else delay
    / TIME STEP values; the arguments read when the run starts (`initial_args`) and
    those the output reads each step (`step_args`; the input is written after the step's
    auxiliaries). `order` takes the dependencies from here. A run continuing a saved
    state starts from the state's buffer (runtime/single.py), which needs a region of the
    same length, or with `grows` one at least as long: a region laid out by the step's
    number from INITIAL TIME that a run never fills continues exactly in a longer one."""
    spans_run: bool
    initial_args: tuple[int, ...]
    step_args: tuple[int, ...]
    # a function of parcels (backend/kernel_queues.py): its output helper `out(buf, off, n,
    # istep, *out_args, [Time,] TIME STEP[, table])`, its step's write `write(..., *write_args,
    # ...)` alike, its region sized by `parcels_size` for the run plus the time of argument
    # `span`; `tables` the arguments that name profile lookups, `clock` whether both read Time
    out: str = ""
    write: str = ""
    out_args: tuple[int, ...] = ()
    write_args: tuple[int, ...] = ()
    span: int = -1
    tables: tuple[int, ...] = ()
    clock: bool = False
    grows: bool = False


@dataclass(frozen=True)
class Builtin:
    """One Vensim function. `args` (least, most) is None where the stage that
    implements it checks its arguments (array and data functions); `helper` is
    the kernel-library function (or math call) codegen emits; `time_argument`
    says the second argument is a time (units: it must have the model's time
    unit); `clocked` says its value changes with time when its arguments do not;
    `takes_lookup` says its first argument is a lookup's name, not a value (anywhere
    else a lookup's name alone is an error: Vensim's "lookup used as a variable")."""
    name: str
    args: tuple[int, int] | None
    stage: str
    doc: str
    units: str = UNCHECKED
    helper: str = ""
    emit: str = ""
    time_argument: bool = False
    clocked: bool = False
    takes_lookup: bool = False
    buffer: Buffer | None = None      # stage BUFFER: how the kernel keeps its state


def _kernel(name, args, helper, doc, units=UNCHECKED, emit=ARGS, clocked=False, takes_lookup=None):
    # a function written as a table read (emit=LOOKUP) takes a lookup's name
    return Builtin(name, args, KERNEL, doc, units, helper, emit, clocked=clocked,
                   takes_lookup=emit == LOOKUP if takes_lookup is None else takes_lookup)


def _lowered(name, args, doc, units=UNCHECKED, time_argument=False, stage=LOWERING):
    return Builtin(name, args, stage, doc, units, time_argument=time_argument)


def _buffered(name, args, doc, buffer: Buffer, units=UNCHECKED, time_argument=False):
    return Builtin(name, args, BUFFER, doc, units, time_argument=time_argument, buffer=buffer)


def _random(name, args, helper, doc, emit=RANDOM_DRAW, takes_lookup=False):
    return Builtin(name, args, KERNEL, doc, UNCHECKED, helper, emit, clocked=True, takes_lookup=takes_lookup)


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
    _kernel("MODULO", (2, 2), "modulo", "MODULO(a, b): remainder of a / b, with the sign of a (C's fmod, "
            "as Vensim)", SAME_AS_FIRST),
    _kernel("QUANTUM", (2, 2), "quantum", "QUANTUM(x, q): x truncated towards zero to a multiple of q "
            "(x itself when q <= 0)", SAME_AS_FIRST),
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
    _kernel("LOOKUP AREA", (3, 3), "lookup_area",
            "LOOKUP AREA(table, start, end): the area under the table from start to end", emit=OWN,
            takes_lookup=True),
    _kernel("LOOKUP SLOPE", (3, 3), "lookup_slope",
            "LOOKUP SLOPE(table, x, mode): the table's slope at x; beyond its ends 0 (mode 0), the "
            "nearest segment's (1) or :NA: (-1); another mode is refused (NaN and a warning when "
            "computed during the run)", OF_TABLE, OWN, takes_lookup=True),
    _kernel("GAMMA LN", (1, 1), "gamma_ln", "GAMMA LN(x): natural logarithm of the gamma function",
            DIMENSIONLESS),
    # ---- random numbers (counter-based: a draw depends on seed, call site and time step only)
    _random("RANDOM 0 1", (0, 0), "random_uniform", "uniform on [0, 1]", emit=OWN),
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
            emit=OWN, takes_lookup=True),
    # ---- allocation at a market priority (kernel_market.py)
    _kernel("ALLOC P", (4, 4), "alloc_p", "ALLOC P(request, priority, width, mp): what a request gets at "
            "MARKETP's market priority mp (ALLOCATE BY PRIORITY in two steps)", SAME_AS_FIRST),
    # ---- loops solved within the time step: passes/solve.py, backend/kernel_solve.py
    Builtin("SIMULTANEOUS", (2, 2), SOLVED, "SIMULTANEOUS(expression, initial value): the whole equation of a "
            "variable on an algebraic loop, which is solved each time it is computed, from the initial value, "
            "until the variable is within 1e-9 (relative) of the value that makes expression = the variable: "
            "as Vensim's help says, by running around the "
            "loop until nothing changes (at most 1000 passes; where the loop has several solutions, the one the "
            "passes reach), and where the passes do not settle (they diverge or cycle) by Newton's method from "
            "the initial value (at most 100 iterations); a loop not solved is NaN, with a warning",
            ARGUMENTS_AGREE, emit=OWN),
    Builtin("FIND ZERO", (9, 9), SOLVED, "FIND ZERO(xs, z, zs, xi, n, skip, tol, max iter, method): the value of "
            "the variable it defines (scaled by xs, starting from xi) that makes z x zs zero within tol, z "
            "being on a loop through it; over the last subscript the elements are solved together (the "
            "elements skip to n - 1, the others held at xi; Newton's method whatever the method; not solved: "
            "NaN, with a warning)",
            emit=OWN),
    # ---- stateful: rewritten into stocks by passes/stateful/
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
    _lowered("NPVE", (4, 4), "NPVE(stream, discount rate, initial value, factor): NPV valued at "
             "the end of each period (as spreadsheets do)"),
    _lowered("DELAYP", (2, 2), "DELAYP(input, delay time : pipeline): DELAY3, and what is in transit "
             "as the model variable `pipeline`", SAME_AS_FIRST, True),
    _lowered("SAMPLE IF TRUE", (3, 3), "SAMPLE IF TRUE(condition, input, initial): input held while false",
             SAME_AS_SECOND),
    _lowered("INITIAL", (1, 1), "the argument's value at the initial time", SAME_AS_FIRST),
    _lowered("ACTIVE INITIAL", (2, 2), "ACTIVE INITIAL(active, initial): a different equation at the initial time",
             SAME_AS_FIRST),
    _lowered("RANDOM PINK NOISE", (4, 4), "RANDOM PINK NOISE(mean, sd, correlation time, seed)"),
    _lowered("DEPRECIATE STRAIGHTLINE", (4, 4),
             "DEPRECIATE STRAIGHTLINE(input, life, period, initial): each period's input written off evenly"),
    _lowered("DELAY BATCH", (6, 6), "DELAY BATCH(input, bsize, btime, inibatch, initime, inibacklog): the input "
             "collected into batches of bsize, each returned as one pulse btime after it starts (at the nearest TIME STEP, "
             "a half step rounding up, as DELAY FIXED)", SAME_AS_FIRST),
    _lowered("TIME BASE", (2, 2), "TIME BASE(start, slope): start + Time x slope, a second time axis",
             SAME_AS_FIRST),
    _lowered("GET TIME VALUE", (3, 3), "GET TIME VALUE(relative to, offset, 0): the model time"),
    _lowered("GET DATA BETWEEN TIMES", (3, 3), "GET DATA BETWEEN TIMES(data, time, mode): a data value at a time (the data functions read "
              "data from files, elements of data arrays, :RAW: data and a data equation's variable, "
              "`x := ...`, at its points)"),
    _lowered("GET DATA AT TIME", (2, 2), "GET DATA AT TIME(data, time): a data value at a time"),
    _lowered("GET DATA FIRST TIME", (1, 1), "GET DATA FIRST TIME(data): the time of a data series' first point"),
    _lowered("GET DATA LAST TIME", (1, 1), "GET DATA LAST TIME(data): the time of its last point"),
    _lowered("GET DATA TOTAL POINTS", (1, 1), "GET DATA TOTAL POINTS(data): its number of points"),
    _lowered("GET DATA MAX", (3, 3), "GET DATA MAX(data, start, end): the largest point from start to end",
             SAME_AS_FIRST),
    _lowered("GET DATA MIN", (3, 3), "GET DATA MIN(data, start, end): the smallest point from start to end",
             SAME_AS_FIRST),
    _lowered("GET DATA MEAN", (3, 3), "GET DATA MEAN(data, start, end): the mean of the points from start "
             "to end", SAME_AS_FIRST),
    _lowered("TIME SHIFT", (2, 2), "TIME SHIFT(data, shift): the data series seen `shift` ahead (its value at "
             "Time + shift)", SAME_AS_FIRST),
    _lowered("X IF MISSING", (2, 2), "X IF MISSING(expression, number): a data equation computed at every "
             "time any of its data has a point, number in place of those that have none", SAME_AS_FIRST),
    _lowered("CUMULATE", (1, 1), "CUMULATE(data): the running sum of a data series' points", SAME_AS_FIRST),
    _lowered("CUMULATEF", (1, 1), "CUMULATEF(data): the sum of all its points, at the last point's time",
             SAME_AS_FIRST),
    # ---- kept in a kernel buffer: the output starts at `initial`; the delay sizes a fixed
    # delay's buffer, and a material or information delay's buffer spans the run
    _buffered("DELAY FIXED", (3, 3), "DELAY FIXED(input, delay, initial): pipeline delay",
              Buffer(False, (1, 2), ()), SAME_AS_FIRST, True),
    # a step no material is due at reads the missing value
    _buffered("DELAY MATERIAL", (4, 4), "DELAY MATERIAL(input, delay, initial, missing): a pipeline whose delay "
              "may vary", Buffer(True, (2,), (3,))),
    # reads its history at the delay time current now
    _buffered("DELAY INFORMATION", (3, 3), "DELAY INFORMATION(input, delay, initial): the input the current "
              "delay time ago", Buffer(True, (2,), (1, 2), grows=True), SAME_AS_FIRST, True),
    # parcels of material each with its own entry (kernel_queues.py), in the same buffer
    _buffered("DELAY CONVEYOR", (6, 6), "DELAY CONVEYOR(input, ctime, leak, initprofile, inittot, initctime): "
              "a conveyor whose speed follows ctime, losing leak a unit of time, initially holding inittot "
              "along initprofile", Buffer(True, (4, 5), (4, 5), out="conveyor_out", write="conveyor_in",
                                          out_args=(4, 5), write_args=(0, 1, 2, 4, 5), span=5, tables=(3,),
                                          grows=True),
              SAME_AS_FIRST, True),
    _buffered("QUEUE FIFO", (5, 5), "QUEUE FIFO(inflow, outflow, profile, initial, age range): a Level whose "
              "entries keep their age, oldest out first", Buffer(
                  True, (3, 4), (3, 4), out="queue_out", write="queue_in", out_args=(3,),
                  write_args=(0, 1, 3, 4), span=4, tables=(2,), clock=True, grows=True), TIMES_TIME),
    _buffered("QUEUE FIFO ATTRIB", (9, 9), "QUEUE FIFO ATTRIB(in, out, inatt, attchg, profile, aprofile, init, "
              "initatt, age range): a QUEUE FIFO whose entries carry an attribute, changing by attchg a unit "
              "of time", Buffer(True, (6, 7, 8), (6, 7, 8), out="queue_attrib_out", write="queue_attrib_in",
                                out_args=(6,), write_args=(0, 1, 2, 3, 6, 7, 8), span=8, tables=(4, 5),
                                clock=True, grows=True), TIMES_TIME),
    _buffered("DELAY PROFILE", (5, 5), "DELAY PROFILE(profile, input, delay time, init, init grow): the input "
              "spread over the response profile, rescaled to a mean delay of delay time", Buffer(
                  True, (2, 3, 4), (2, 3, 4), out="profile_out", write="profile_in", out_args=(2, 3, 4),
                  write_args=(1, 2, 3, 4), span=2, tables=(0,)), SAME_AS_SECOND),
    _kernel("QUEUE AGE AVERAGE", (1, 2), "queue_age", "QUEUE AGE AVERAGE(queue, quant): the mean age of the "
            "oldest quant in a QUEUE FIFO (all of it when quant <= 0 or omitted)", TIME_UNITS, OWN),
    _kernel("QUEUE AGE IN RANGE", (3, 3), "queue_age", "QUEUE AGE IN RANGE(queue, minage, maxage): how much of "
            "a QUEUE FIFO is aged from minage to maxage (:NA: leaves a side open)", SAME_AS_FIRST, OWN),
    _kernel("QUEUE AGE OLDEST", (1, 1), "queue_age", "QUEUE AGE OLDEST(queue): the age of the oldest entry of a "
            "QUEUE FIFO", TIME_UNITS, OWN),
    _kernel("QUEUE ATTRIB AVERAGE", (1, 2), "queue_age", "QUEUE ATTRIB AVERAGE(queue, quant): the mean attribute "
            "of the oldest quant in a QUEUE FIFO ATTRIB (all of it when quant <= 0 or omitted)", emit=OWN),
    _kernel("QUEUE ATTRIB QUANTITY", (2, 2), "queue_age", "QUEUE ATTRIB QUANTITY(queue, quant): how much of the "
            "oldest of a QUEUE FIFO ATTRIB has attributes adding up to quant", SAME_AS_FIRST, OWN),
    _buffered("INTERNAL RATE OF RETURN", (4, 4), "INTERNAL RATE OF RETURN(stream, fisc, init, it): the return per "
              "fiscal period fisc (-1 to 1) that makes the net present value of the stream so far zero, its flows "
              "summed by fiscal period (from INITIAL TIME) as if at the period's end, with init at time it; :NA: "
              "when there is none (a fiscal period below TIME STEP, or not positive, is TIME STEP)", Buffer(True, (1, 2, 3), (1, 2, 3), out="irr_out", write="irr_in",
                                           out_args=(1, 2, 3), write_args=(0,), span=1, clock=True,
                                           grows=True),
              DIMENSIONLESS, True),
    Builtin("INTEG", None, EQUATION, "INTEG(rate, initial): a stock"),
    Builtin("SINTEG", None, EQUATION, "SINTEG(rate, initial, min, max, quantum, special, threshold): a restricted stock"),
    # ---- arrays: expanded over elements by passes/subscripts.py and array_functions.py
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
    Builtin("ALLOCATE BY PRIORITY", None, FLATTENING, "supply shared by priority (rectangular profiles); "
            "its size a number or ELMCOUNT(range), not a variable"),
    Builtin("ALLOCATE AVAILABLE", None, FLATTENING, "supply shared by priority profiles (types 0-5; 10-15 the same in whole numbers)"),
    Builtin("INVERT MATRIX", None, FLATTENING, "the inverse of a square matrix"),
    Builtin("FIND MARKET PRICE", None, FLATTENING, "FIND MARKET PRICE(demand[d1], demand profile[d1, ptype], "
            "supply[s1], supply profile[s1, ptype]): the price at which total demand equals total supply",
            SAME_AS_SECOND),
    Builtin("DEMAND AT PRICE", None, FLATTENING, "DEMAND AT PRICE(quantity, profile, price): what each "
            "demander asks for at the price", SAME_AS_FIRST),
    Builtin("SUPPLY AT PRICE", None, FLATTENING, "SUPPLY AT PRICE(capacity, profile, price): what each "
            "supplier offers at the price", SAME_AS_FIRST),
    Builtin("MARKETP", None, FLATTENING, "MARKETP(request[first], priority[first], size, width, supply): "
            "the market priority ALLOC P shares the supply out at among the first `size` requesters",
            DIMENSIONLESS),
    Builtin("SHIFT IF TRUE", None, FLATTENING, "SHIFT IF TRUE(var[first], cond, size, accum, inval): when "
            "cond is true, the stock var's first size elements shift one along its last subscript (the "
            "last replaced, or added to if accum), inval enters the first; gives what left the last",
            SAME_AS_FIRST),
    Builtin("DEPRECIATE BY SCHEDULE", None, FLATTENING, "DEPRECIATE BY SCHEDULE(str, sch[first], init[first], "
            "dtime, fs): each fiscal period's investment written off over the dtime that follows, by the "
            "schedule's fractions", SAME_AS_FIRST),
    Builtin("VECTOR LOOKUP", None, FLATTENING, "a vector read as a lookup's y values over [xmin, xmax] "
            "(modes 0-9: lookup, area, backward, extrapolate, forward, invert, slope, and area, invert, slope "
            "extrapolated)"),
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
TAKES_LOOKUP = {n for n, b in BUILTINS.items() if b.takes_lookup}
# the arguments that name lookups: the first of TAKES_LOOKUP, a parcel buffer's profiles
LOOKUP_ARGS = {**{n: (0,) for n in TAKES_LOOKUP},
               **{n: b.buffer.tables for n, b in BUILTINS.items() if b.buffer is not None and b.buffer.tables}}


def helpers(emit: str) -> dict[str, str]:
    """{function: kernel helper} of the KERNEL functions codegen writes in one way (ARGS, LOOKUP, ...)."""
    return {n: b.helper for n, b in BUILTINS.items() if b.stage == KERNEL and b.emit == emit}


def units_rules() -> dict[str, str]:
    """{function: units rule} of every function whose units are checked."""
    return {n: b.units for n, b in BUILTINS.items() if b.units != UNCHECKED}


def markdown_table() -> str:
    """The README's function table: every registered function, grouped by stage, then every
    other function of Vensim's "List of Functions" with why smartspec does not run it."""
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
    for name, why in sorted(NOT_SUPPORTED.items()):
        status = "not supported" if name in NEVER_SUPPORTED else "not supported yet"
        lines.append(f"| {name} | - | {status} | - | {why or 'not implemented yet'} |")
    for name, (status, what) in KEYWORDS.items():
        lines.append(f"| {name} | - | {status} | - | {what} |")
    return "\n".join(lines) + "\n"


# Every other function of Vensim's reference ("List of Functions"), and why smartspec does
# not run it (empty: not done yet). The README's function table lists these too.
NOT_SUPPORTED = {
    "A FUNCTION OF": "Vensim's placeholder for an equation not written yet: there is nothing to compute",
    "MESSAGE": "shows a message in Vensim's user interface during the run",
    "GET VDF CONSTANTS": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET VDF DATA": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET VDF LOOKUPS": "reads Vensim's own binary run files (.vdf), whose format is not published",
    "GET 123 CONSTANTS": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS CONSTANTS",
    "GET 123 DATA": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS DATA",
    "GET 123 LOOKUPS": "reads Lotus 1-2-3 worksheets; save the sheet as .xlsx and use GET XLS LOOKUPS",
    "TABBED ARRAY": "only as the whole right-hand side of a constant (x[A] = TABBED ARRAY(...))",
    "NET PRESENT VALUE": "accumulates by fiscal period; NPV and NPVE are supported",
}
# The keywords of Vensim's reference ("Keywords"; :AND: is also in the "List of Functions"):
# where smartspec reads each, or why not.
_PARSED = "read by the parser"
KEYWORDS = {
    ":AND:": (_PARSED, "logical and"),
    ":OR:": (_PARSED, "logical or"),
    ":NOT:": (_PARSED, "logical not"),
    ":NA:": (_PARSED, "the missing value, -1.298074214633707e33 as in Vensim"),
    ":EXCEPT:": (_PARSED, "an equation for all but the elements listed"),
    ":MACRO:": (_PARSED, "begins a macro (expanded per call site by passes/macros.py)"),
    ":END OF MACRO:": (_PARSED, "ends a macro"),
    ":INTERPOLATE:": (_PARSED, "a data variable read from a file, interpolated between its points"),
    ":HOLD BACKWARD:": (_PARSED, "a data variable holding its last point"),
    ":LOOK FORWARD:": (_PARSED, "a data variable taking its next point"),
    ":RAW:": (_PARSED, "a data variable whose value is its point's at each point's time, and :NA: "
              "between its points and beyond them"),
    ":=": (_PARSED, "a data equation (`y :RAW: := x * 2`, also inside a macro): computed at the times where "
           "every data series it reads has a point (Vensim's help, \"Data Equations\"), between them and beyond "
           "them as its keyword says (:INTERPOLATE: by default, the ends held); one reading an ordinary "
           "variable or calling a stateful function is computed at every time"),
    ":THE CONDITION:": ("read, not evaluated", "a Reality Check constraint: Vensim tests it only in its "
                        "Reality Check tool, never in a simulation run; a run notes it is not evaluated"),
    ":IMPLIES:": ("read, not evaluated", "the consequence of a Reality Check (see :THE CONDITION:)"),
    ":TEST INPUT:": ("read, not evaluated", "a Reality Check test input (see :THE CONDITION:)"),
    ":AT LEAST ONCE:": ("read, not evaluated", "qualifies a Reality Check consequence (see :THE "
                        "CONDITION:); refused elsewhere"),
    ":CROSSING:": ("read, not evaluated", "qualifies a comparison of a Reality Check consequence (see "
                   ":THE CONDITION:); refused elsewhere"),
    ":IGNORE:": ("not supported", "marks causes for Vensim's sketch and Reality Check tools: a model "
                 "using it stops with a syntax error at it"),
    ":IS:": ("not supported", "assigns a string constant, which has no numerical value to simulate: a "
             "model using it stops with a syntax error at it"),
}
# ... of those, the ones outside what a compiled run does (the rest may come)
NEVER_SUPPORTED = {"A FUNCTION OF", "MESSAGE", "GET VDF CONSTANTS", "GET VDF DATA", "GET VDF LOOKUPS",
                   "GET 123 CONSTANTS", "GET 123 DATA", "GET 123 LOOKUPS", "TABBED ARRAY"}
# the data functions, which only the external-data reader may consume
KNOWN_UNSUPPORTED = set(NOT_SUPPORTED) | {
    n for n, b in BUILTINS.items() if b.stage == EXTERNAL and not n.endswith(" SUBSCRIPT")}


# ---- internal calls -------------------------------------------------------------------
# Calls the flattening pass introduces ('@' keeps them apart from Vensim's names), declared
# here once: passes/array_functions.py builds them from these entries and backend/emit.py
# writes them from these fields, so neither matches their names.
DRIVER, BLOCK_READ = "driver", "block read"


@dataclass(frozen=True)
class Internal:
    """A call the flattening pass introduces. A DRIVER computes a whole vector into a
    scratch block of the kernel's state, once per evaluation: `helper(v, block, n,
    scalars...)` over its arguments after the first `scalars` (the vector); @PACK
    (`helper` "") only stores its vector there. A BLOCK_READ reads a driver's block
    (its first argument, then the block's length n): `helper(v, block, n, rest...)`, or
    for @ELEMENT (`helper` "") the block's k-th value. `shown` is how messages name it."""
    name: str
    role: str
    helper: str
    args: tuple[int, int] | None = None   # a read's arity; a driver takes a vector of any length
    scalars: int = 0
    shown: str = ""


def _driver(function: str, helper: str, scalars: int) -> Internal:
    return Internal("@" + function, DRIVER, helper, None, scalars, function)


PACK = Internal("@PACK", DRIVER, "", shown="vector")
ELEMENT = Internal("@ELEMENT", BLOCK_READ, "", (2, 2), shown="element")       # (driver, k)
AT = Internal("@AT", BLOCK_READ, "vector_at", (3, 3), shown="element at")       # (driver, n, index)
VSELECT = Internal("@VSELECT", BLOCK_READ, "vector_select", (4, 4),             # (driver, n, missing, action)
                   shown="VECTOR SELECT")
VLOOKUP = Internal("@VLOOKUP", BLOCK_READ, "vector_lookup", (6, 6),             # (driver, n, x, xmin, xmax, mode)
                   shown="VECTOR LOOKUP")
INTERNAL: dict[str, Internal] = {c.name: c for c in (
    PACK, _driver("VECTOR RANK", "vector_rank", 1), _driver("VECTOR SORT ORDER", "vector_sort_order", 1),
    _driver("ALLOCATE AVAILABLE", "allocate_available", 1),
    _driver("ALLOCATE BY PRIORITY", "allocate_by_priority", 2), _driver("INVERT MATRIX", "invert_matrix", 0),
    _driver("FIND MARKET PRICE", "find_market_price", 1), _driver("DEMAND AT PRICE", "demand_at_price", 1),
    _driver("SUPPLY AT PRICE", "supply_at_price", 1), _driver("MARKETP", "marketp", 2),
    ELEMENT, AT, VSELECT, VLOOKUP)}
ARRAY_DRIVERS = {n: c for n, c in INTERNAL.items() if c.role == DRIVER}
# SHIFT IF TRUE over its elements (cond, accum, inval, the stocks) and DEPRECIATE BY SCHEDULE
# over its schedule's, from flattening to stateful lowering, which takes each as the whole
# equation of its variable (stateful/shifts.py, stateful/other.py)
SHIFTED, DEPRECIATED = "@SHIFT IF TRUE", "@DEPRECIATE BY SCHEDULE"
# the calls whose value is NaN when a priority profile (or request, width) is invalid at run
# time -> the function to name in that warning (runtime/diagnostics.py)
PROFILED = {**{"@" + f: f for f in ("ALLOCATE AVAILABLE", "ALLOCATE BY PRIORITY", "FIND MARKET PRICE",
                                    "DEMAND AT PRICE", "SUPPLY AT PRICE", "MARKETP")},
            "ALLOC P": "ALLOC P"}
ARRAY_READS = {n: c for n, c in INTERNAL.items() if c.role == BLOCK_READ}
# the calls that can return Vensim's :NA: during a run (their help pages); with a literal :NA:
# (:RAW: data, VECTOR ELM MAP out of range) what a sweep's statistics must watch for
GIVES_NA = frozenset({"INTERNAL RATE OF RETURN", "LOOKUP SLOPE", "QUEUE AGE IN RANGE",
                      "@FIND MARKET PRICE", "FIND MARKET PRICE"})


def driver_for(function: str) -> Internal:
    """The driver that computes the Vensim array function `function` (VECTOR RANK, ...)."""
    return ARRAY_DRIVERS["@" + function]


def check_call(node: ir.Call) -> None:
    """Raise a precise error for an unknown function or a wrong argument count."""
    f = node.func
    arity = ARITY.get(f) or (ARRAY_READS[f].args if f in ARRAY_READS else None)
    if f in ARRAY_DRIVERS:
        arity = (0, len(node.args))
    if f in (SHIFTED, DEPRECIATED):    # stateful lowering takes them as whole equations only
        raise ModelError(f"{node.pos}: {f[1:]} must be the whole equation of its variable")
    if arity is None and f in ARRAY:
        raise UnsupportedFeature(f"{node.pos}: function '{f}' is not supported without subscripts: "
                                 "it works on subscripted variables, and this model has none")
    if arity is None:
        if f in WHOLE_EQUATION:
            raise ModelError(f"{node.pos}: {f} must be the whole equation of a stock")
        if f.endswith(" LOOKUPS") and f.startswith("GET ") and f in BUILTINS:
            raise ModelError(f"{node.pos}: {f} defines a lookup table, so it must be the whole "
                             f"equation: write 'table = {f}(...)' and use table(x)")
        if f in BUILTINS and BUILTINS[f].stage == EXTERNAL:
            raise UnsupportedFeature(f"{node.pos}: {f} reads a data file: it must be the whole "
                                     "equation of a constant or data variable")
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
            # `table$(x)` in a macro is the model's lookup `table`
            name = ir.canonical_name(node.func.rstrip("$")) if isinstance(node, ir.Call) else ""
            if not isinstance(node, ir.Call) or (str(node.pos), node.func) in seen:
                continue
            if node.func not in BUILTINS and name not in defined:
                seen.add((str(node.pos), node.func))
                out.append(f"{node.pos}: {unknown_function_message(node.func)} (in the equation of '{owner}')")
            elif node.func in ARRAY and not model.subscript_ranges:
                seen.add((str(node.pos), node.func))
                out.append(f"{node.pos}: function '{node.func}' is not supported without subscripts: it "
                           f"works on subscripted variables, and this model has none (in the equation "
                           f"of '{owner}')")

    variables = list(model.variables.values()) + [v for m in model.macros.values() for v in m.variables]
    for var in variables:
        for e in (var.expr, var.initial, *(x for d in var.definitions for x in (d.expr, d.lookup)),
                  *(x for d in var.definitions for row in d.rows for x in row)):
            scan(e, var.display)
    return sorted(out, key=_position_order)


def _position_order(message: str):
    parts = message.split(": ", 1)[0].rsplit(":", 2)
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return message, 0, 0
