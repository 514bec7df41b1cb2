"""The generated kernels' own Numba pipeline (backend/kernel_pipeline.py) and the typing of
operators remembered per operand types (tier0._operator_typing) change no number and no type."""
from __future__ import annotations

import gc
import io
import math

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba import njit, types  # noqa: E402

from smartspec_dsl.backend import tier0  # noqa: E402
from smartspec_dsl.backend.kernel_intrinsics import Slots, stm  # noqa: E402
from smartspec_dsl.backend.kernel_pipeline import NO_ANNOTATION, KernelPipeline, OncePipeline  # noqa: E402


def logistic(v, n, dt, r, k):
    """Euler steps of dx/dt = r x (1 - x / k) with a level and a rate, a branch and a loop,
    as a kernel writes them."""
    x = v[0]
    for i in range(n):
        rate = r * x * (1.0 - x / k)
        if x > 0.5 * k:
            rate = rate - 0.001 * (x - 0.5 * k)
        x = x + dt * rate
        v[1 + i % 3] = x
    return x


def test_kernel_and_once_pipelines_give_pythons_own_floats():
    # Python's floats are IEEE doubles computed in the same order: the same bits
    expected_v = np.array([10.0, 0.0, 0.0, 0.0])
    expected = logistic(expected_v, 1000, 0.125, 0.3, 1000.0)
    assert 990.0 < expected < 1000.0      # near the carrying capacity, below it (the cut above k/2)
    for pipeline in (KernelPipeline, OncePipeline):
        compiled = njit(pipeline_class=pipeline)(logistic)
        v = np.array([10.0, 0.0, 0.0, 0.0])
        assert compiled(v, 1000, 0.125, 0.3, 1000.0) == expected
        assert np.array_equal(v, expected_v)


def test_once_pipeline_compiles_without_a_c_callable_wrapper():
    # kernels are called from Python and from each other, not through a C function pointer
    compiled = njit(pipeline_class=OncePipeline)(lambda a, b: math.floor(a / b))
    assert compiled(7.0, 2.0) == 3.0
    assert compiled(-7.0, 2.0) == -4.0
    cres = compiled.overloads[compiled.signatures[0]]
    assert cres.fndesc.llvm_cfunc_wrapper_name not in {f.name for f in cres.library.get_defined_functions()}


def test_a_kernel_compile_leaves_the_cyclic_collector_as_it_found_it():
    # paused while Numba compiles (kernel_pipeline.no_cyclic_collection), on again after it,
    # also after a compile that fails; left off when the caller had turned it off
    assert gc.isenabled()
    compiled = njit(pipeline_class=KernelPipeline)(lambda a: a * 2.0 + 1.0)
    assert compiled(1.5) == 4.0
    assert gc.isenabled()
    failing = njit(pipeline_class=KernelPipeline)(lambda a: a.no_such_attribute)
    with pytest.raises(numba.core.errors.TypingError):
        failing(1.0)
    assert gc.isenabled()
    gc.disable()
    try:
        assert njit(pipeline_class=OncePipeline)(lambda a: a - 1.0)(1.5) == 0.5
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_kernel_function_keeps_a_short_type_annotation(tmp_path):
    # Numba's typed IR with the function's source lines is not kept (nor written into the
    # cache); inspect_types still answers, with the short text a cached function has
    compiled = njit(pipeline_class=KernelPipeline)(logistic)
    v = np.array([10.0, 0.0, 0.0, 0.0])
    compiled(v, 10, 0.125, 0.3, 1000.0)
    assert compiled.overloads[compiled.signatures[0]].type_annotation == NO_ANNOTATION
    out = io.StringIO()
    compiled.inspect_types(file=out)
    assert NO_ANNOTATION in out.getvalue()


STORED = Slots((3, 0, 2))


def test_a_grouped_store_at_module_slots_writes_each_slot_in_order():
    # stm with the slots as a module's Slots constant (the Euler driver's form) stores as the
    # same call with the slots written as a tuple, and as one store after another; a slot
    # written twice keeps the later value
    def grouped(v, a, b, c):
        stm(v, STORED, (a, b, c))
        stm(v, (1, 1), (a, c))

    def written(v, a, b, c):
        stm(v, (3, 0, 2), (a, b, c))
        stm(v, (1, 1), (a, c))
    for f in (grouped, written):
        v = np.full(5, -1.0)
        njit(pipeline_class=KernelPipeline)(f)(v, 1.5, 2.5, 3.5)
        assert v.tolist() == [2.5, 3.5, 3.5, 1.5, -1.0]


@pytest.mark.parametrize(("op", "left", "right", "result"), [
    ("add", types.int64, types.int64, types.int64),
    ("truediv", types.int64, types.int64, types.float64),
    ("floordiv", types.int64, types.int64, types.int64),
    ("add", types.int64, types.float64, types.float64),
    ("mul", types.boolean, types.boolean, types.int64),
    ("lt", types.float64, types.int64, types.boolean),
    ("sub", types.int32, types.int64, types.int64),
    ("pow", types.float64, types.int64, types.float64),
])
def test_operator_typing_is_numbas_own_every_time(op, left, right, result):
    import operator

    from numba.core.registry import cpu_target
    tier0.quick_start()
    context = cpu_target.typing_context
    context.refresh()
    fnty = context.resolve_value_type(getattr(operator, op))
    first = context.resolve_function_type(fnty, (left, right), {})
    again = context.resolve_function_type(fnty, (left, right), {})
    assert first.return_type == result
    assert again == first
    assert fnty.get_impl_key(again) is not None     # what lowering looks the implementation up by


def test_abi_sizes_are_llvms_own_every_time():
    """The sizes Numba's lowering asks for, remembered by their type's text
    (tier0._abi_sizes): a double 8 bytes, an i32 4, an array of three doubles 24, a
    struct {i8, double} 16 on x86-64 and aarch64 (the double aligned to 8)."""
    from llvmlite import ir as llvm_ir
    from numba.core.registry import cpu_target
    tier0.quick_start()
    context = cpu_target.target_context
    double = llvm_ir.DoubleType()
    cases = [(double, 8), (llvm_ir.IntType(32), 4), (llvm_ir.ArrayType(double, 3), 24),
             (llvm_ir.LiteralStructType([llvm_ir.IntType(8), double]), 16)]
    for ty, size in cases * 2:
        assert context.get_abi_sizeof(ty) == size


def test_lowering_lookups_give_numbas_own_answers_every_time():
    """What tier0.quick_start remembers for lowering: whether an implementation takes `loc`
    (asked twice, also for a new function), the type of an operand of unknown value (an
    omitted argument whose default is Numba's UNDEFINED), the implementation of an integer
    literal's constant and conversion (the same for every literal of a class), and a kernel
    compiled after them computing what Python computes."""
    from numba.core import base, ir, lowering
    from numba.core.registry import cpu_target
    tier0.quick_start()

    def with_loc(context, builder, sig, args, loc=None):
        return loc

    def without_loc(context, builder, sig, args):
        return None
    for _ in range(2):
        assert base._has_loc(with_loc) is True
        assert base._has_loc(without_loc) is False
        assert base._has_loc(lambda a, loc: a) is True
    unknown = lowering._lit_or_omitted(ir.UNDEFINED)
    assert unknown == types.Omitted(ir.UNDEFINED)
    assert lowering._lit_or_omitted(3) == types.literal(3)
    context = cpu_target.target_context
    context.refresh()
    first = context._casts.find((types.literal(12), types.int64))
    assert context._casts.find((types.literal(345), types.int64)) is first
    assert context._get_constants.find((types.literal(7),)) is context._get_constants.find((types.literal(8),))
    # and the numbers they give: literals converted and stored, a division, an operator on literals
    compiled = njit(pipeline_class=KernelPipeline)(stored_then_read)
    v = np.zeros(4)
    assert compiled(v, 3.0) == 7 * 3.0 / 2.0 + 12 - 345
    assert v[3] == 22.5


def stored_then_read(v, x):
    v[3] = 7 * x / 2.0 + 12
    return v[3] - 345
