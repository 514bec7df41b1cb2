"""The builtin registry (smartspec_dsl/ir/builtins.py) is the one place that says
what a Vensim function is; the passes and the README read it."""
import os
import re
from pathlib import Path

import pytest

from smartspec_dsl import ir
from smartspec_dsl.backend import driver, emit, kernel_extra, kernel_lib, kernel_queues
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
        assert any(hasattr(lib, b.helper) for lib in (kernel_lib, kernel_extra, kernel_queues)), b.name
        assert b.helper in imported, f"{b.name}: {b.helper} is not imported by generated kernels"
    # a buffer function's own helpers (its output and its step's write)
    for b in BUILTINS.values():
        for helper in (b.buffer.out, b.buffer.write) if b.buffer is not None and b.buffer.out else ():
            assert hasattr(kernel_queues, helper) and helper in imported, f"{b.name}: {helper}"


def test_every_function_written_its_own_way_has_its_emitter():
    """emit=OWN in the registry and a method in backend/emit.py's table: neither without the other."""
    own = {n for n, b in BUILTINS.items() if b.stage == KERNEL and b.emit == OWN}
    assert own == set(emit.OWN_EMITTERS)


def test_internal_calls_name_kernel_helpers_that_kernels_import():
    """The flattening's internal calls (@PACK, @AT, the drivers ...) are declared once, in the
    registry; what codegen emits for them is a kernel-library function every kernel imports."""
    imported = set(re.findall(r"\b[a-z_0-9]+\b", driver.HEADER.split("JIT = ")[0]))
    assert {"@PACK", "@ELEMENT", "@AT", "@VSELECT", "@VLOOKUP"} <= set(INTERNAL)
    for c in INTERNAL.values():
        assert c.name.startswith("@") and c.shown, c
        if c.helper:
            assert hasattr(kernel_lib, c.helper) or hasattr(kernel_extra, c.helper), c.name
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
