"""The builtin registry (smartspec_dsl/ir/builtins.py) is the one place that says
what a Vensim function is; the passes and the README read it."""
import os
import re
from pathlib import Path

import pytest

from smartspec_dsl import ir
from smartspec_dsl.backend import driver, emit, kernel_extra, kernel_finance, kernel_lib, kernel_market, kernel_queues
from smartspec_dsl.errors import ModelError, UnsupportedFeature
from smartspec_dsl.ir.builtins import (ARITY, BUILTINS, INTERNAL, KERNEL, NEVER_SUPPORTED, NOT_SUPPORTED, OWN,
                                       check_call, markdown_table)

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- builtins table: generated, do not edit -->\n", "<!-- end of builtins table -->"


def test_readme_function_table_is_the_registry():
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START)
    table, tail = rest.split(END)
    if os.environ.get("SMARTSPEC_WRITE_README") and table != markdown_table():
        README.write_text(head + START + markdown_table() + END + tail, encoding="utf-8")
        table = markdown_table()
    assert table == markdown_table(), "README's function table is stale: SMARTSPEC_WRITE_README=1 rewrites it"


def test_every_kernel_helper_exists_and_every_kernel_imports_it():
    """A registered helper is a kernel-library function, and the generated module imports it."""
    imported = set(re.findall(r"\b[a-z_0-9]+\b", driver.HEADER.split("JIT = ")[0]))
    for b in BUILTINS.values():
        if b.stage != KERNEL or not b.helper or b.helper in ("abs",) or b.helper.startswith("math."):
            continue
        assert any(hasattr(m, b.helper) for m in (kernel_lib, kernel_extra, kernel_market, kernel_queues)), b.name
        assert b.helper in imported, f"{b.name}: {b.helper} is not imported by generated kernels"
    # a buffer function's own helpers (its output and its step's write)
    for b in BUILTINS.values():
        for helper in (b.buffer.out, b.buffer.write) if b.buffer is not None and b.buffer.out else ():
            assert any(hasattr(m, helper) for m in (kernel_queues, kernel_finance)) and helper in imported, \
                f"{b.name}: {helper}"


def test_every_function_written_its_own_way_has_its_emitter():
    """emit=OWN in the registry and a method in backend/emit.py's table: neither without the other."""
    own = {n for n, b in BUILTINS.items() if b.emit == OWN}
    assert own == set(emit.OWN_EMITTERS)


def test_internal_calls_name_kernel_helpers_that_kernels_import():
    """The flattening's internal calls (@PACK, @AT, the drivers ...) are declared once, in the
    registry; what codegen emits for them is a kernel-library function every kernel imports."""
    imported = set(re.findall(r"\b[a-z_0-9]+\b", driver.HEADER.split("JIT = ")[0]))
    assert {"@PACK", "@ELEMENT", "@AT", "@VSELECT", "@VLOOKUP"} <= set(INTERNAL)
    for c in INTERNAL.values():
        assert c.name.startswith("@") and c.shown, c
        if c.helper:
            assert any(hasattr(m, c.helper) for m in (kernel_lib, kernel_extra, kernel_market)), c.name
            assert c.helper in imported, f"{c.name}: {c.helper} is not imported by generated kernels"


@pytest.mark.parametrize("name", sorted(ARITY))
def test_arity_is_checked_from_the_registry(name):
    lo, hi = ARITY[name]
    arg = ir.Num(1.0)
    check_call(ir.Call(name, (arg,) * lo))
    check_call(ir.Call(name, (arg,) * hi))
    with pytest.raises(ModelError, match=f"{re.escape(name)} takes"):
        check_call(ir.Call(name, (arg,) * (hi + 1)))


def test_unknown_and_unsupported_functions_are_named():
    with pytest.raises(UnsupportedFeature, match="'NO SUCH' is not a Vensim function, nor a macro or lookup"):
        check_call(ir.Call("NO SUCH", ()))
    for name in sorted(set(NOT_SUPPORTED) - NEVER_SUPPORTED)[:1]:   # one not done yet, if any is left
        with pytest.raises(UnsupportedFeature, match=f"Vensim function {name} is not supported by smartspec yet"):
            check_call(ir.Call(name, ()))
    with pytest.raises(UnsupportedFeature, match="without subscripts"):
        check_call(ir.Call("SUM", (ir.Num(1.0),)))


# Vensim's reference: the "List of Functions" (Help > Reference Guide > Functions) and the
# "Keywords" page, transcribed. The README's table must have a row for each.
VENSIM_FUNCTIONS = """
A FUNCTION OF, ABS, ACTIVE INITIAL, ALLOCATE AVAILABLE, ALLOCATE BY PRIORITY, ALLOC P, ARCCOS,
ARCSIN, ARCTAN, COS, COSH, CUMULATE, CUMULATEF, DELAY BATCH, DELAY CONVEYOR, DELAY FIXED,
DELAY INFORMATION, DELAY MATERIAL, DELAY N, DELAY PROFILE, DELAY1, DELAY1I, DELAY3, DELAY3I, DELAYP,
DEMAND AT PRICE, DEPRECIATE BY SCHEDULE, DEPRECIATE STRAIGHTLINE, ELMCOUNT, EXP, FIND MARKET PRICE,
FIND ZERO, FORECAST, GAME, GAMMA LN, GET 123 CONSTANTS, GET 123 DATA, GET 123 LOOKUPS,
GET DATA AT TIME, GET DATA BETWEEN TIMES, GET DATA FIRST TIME, GET DATA LAST TIME, GET DATA MAX,
GET DATA MEAN, GET DATA MIN, GET DATA TOTAL POINTS, GET DIRECT CONSTANTS, GET DIRECT DATA,
GET DIRECT LOOKUPS, GET DIRECT SUBSCRIPT, GET TIME VALUE, GET VDF CONSTANTS, GET VDF DATA,
GET VDF LOOKUPS, GET XLS CONSTANTS, GET XLS DATA, GET XLS LOOKUPS, GET XLS SUBSCRIPT, IF THEN ELSE,
INITIAL, INTEG, INTEGER, INTERNAL RATE OF RETURN, INVERT MATRIX, LN, LOG, LOOKUP AREA,
LOOKUP BACKWARD, LOOKUP EXTRAPOLATE, LOOKUP FORWARD, LOOKUP INVERT, LOOKUP SLOPE, MARKETP, MAX,
MESSAGE, MIN, MODULO, NET PRESENT VALUE, NPV, NPVE, POWER, PROD, PULSE, PULSE TRAIN, QUANTUM,
QUEUE AGE AVERAGE, QUEUE AGE IN RANGE, QUEUE AGE OLDEST, QUEUE ATTRIB AVERAGE, QUEUE ATTRIB QUANTITY,
QUEUE FIFO, QUEUE FIFO ATTRIB, RAMP, RANDOM 0 1, RANDOM BETA, RANDOM BINOMIAL, RANDOM EXPONENTIAL, RANDOM GAMMA,
RANDOM LOGNORMAL, RANDOM LOOKUP, RANDOM NEGATIVE BINOMIAL, RANDOM NORMAL, RANDOM PINK NOISE,
RANDOM POISSON, RANDOM TRIANGULAR, RANDOM UNIFORM, RANDOM WEIBULL, SAMPLE IF TRUE, SHIFT IF TRUE,
SIMULTANEOUS, SIN, SINH, SINTEG, SMOOTH, SMOOTH N, SMOOTH3, SMOOTH3I, SMOOTHI, SQRT, STEP, SUM,
SUPPLY AT PRICE, TABBED ARRAY, TAN, TANH, TIME BASE, TIME SHIFT, TREND, VECTOR ELM MAP,
VECTOR LOOKUP, VECTOR RANK, VECTOR REORDER, VECTOR SELECT, VECTOR SORT ORDER, VMAX, VMIN,
WITH LOOKUP, XIDZ, ZIDZ,
:AND:, :AT LEAST ONCE:, :CROSSING:, :END OF MACRO:, :EXCEPT:, :HOLD BACKWARD:, :IGNORE:, :IMPLIES:,
:INTERPOLATE:, :IS:, :LOOK FORWARD:, :MACRO:, :NA:, :NOT:, :OR:, :RAW:, :TEST INPUT:, :THE CONDITION:
"""


def test_readme_function_table_covers_vensims_list():
    """Every function and keyword of Vensim's reference has a row: supported (with the stage
    that implements it) or not, with why."""
    rows = {line.split(" | ")[0].lstrip("| ") for line in markdown_table().splitlines()[2:]}
    listed = {n.strip() for n in VENSIM_FUNCTIONS.replace("\n", " ").split(",")}
    assert not listed - rows, f"no row in the function table for {sorted(listed - rows)}"
