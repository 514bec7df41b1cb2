"""The kernel library's lowest layer: the compile options of every helper
(`JIT`) and the intrinsics generated kernels use for the state vector and for
conditionals, which lower straight to LLVM loads, stores and selects."""
from __future__ import annotations

from llvmlite import ir as _ll
from numba.core import cgutils as _cg, types as _t
from numba.core.imputils import lower_constant
from numba.extending import intrinsic, models, register_model, typeof_impl

from . import helper_cache  # noqa: F401  (before any cached helper: their cache key)
from ..ir.constants import XIDZ_EPS  # noqa: F401  (kernel_lib takes it from here)

JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)

# ---- intrinsics ------------------------------------------------------------
# Generated kernels read and write the state vector with ld/st and build
# conditionals with the select-based helpers below. They lower straight to LLVM
# loads, stores and `select`s: Numba types each call with one tiny template and
# emits no call, status check or index wrap-around, which roughly halves the
# front-end compile time of large models. Indices are constants emitted by the
# code generator (always within the vector), so no bounds check is done.
# Intrinsics cannot be called from Python.

_F = _t.float64


def _ptr(context, builder, aryty, ary, idx):
    if aryty.layout == "C":
        # contiguous: the element is data + idx; skipping the generic array proxy keeps
        # both Numba's lowering and LLVM's work per access small
        field = context.data_model_manager[aryty].get_field_position("data")
        return builder.gep(builder.extract_value(ary, field), [idx], inbounds=True)
    a = context.make_array(aryty)(context, builder, ary)
    return _cg.get_item_pointer(context, builder, aryty, a, [idx], wraparound=False)


@intrinsic
def ld(typingctx, arr, idx):
    """arr[idx] for a 1-d float64 array and a non-negative index."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_ptr(context, builder, sig.args[0], args[0], args[1]))
    return _F(arr, _t.intp), codegen


@intrinsic
def st(typingctx, arr, idx, x):
    """arr[idx] = x for a 1-d float64 array and a non-negative index."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and arr.mutable):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], _ptr(context, builder, sig.args[0], args[0], args[1]))
        return context.get_dummy_value()
    return _t.none(arr, _t.intp, _F), codegen


@intrinsic
def ldi(typingctx, arr, base, i):
    """arr[base + i]: `ld(arr, base + i)` as one call, the addition in its code (a loop's
    read of an array at its counter: step_locals.indexed)."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and isinstance(i, _t.Integer)):
        return None

    def codegen(context, builder, sig, args):
        at = builder.add(args[1], context.cast(builder, args[2], sig.args[2], _t.intp))
        return builder.load(_ptr(context, builder, sig.args[0], args[0], at))
    return _F(arr, _t.intp, i), codegen


@intrinsic
def sti(typingctx, arr, base, i, x):
    """arr[base + i] = x: `st(arr, base + i, x)` as one call (see `ldi`)."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and arr.mutable
            and isinstance(i, _t.Integer) and isinstance(x, _t.Number)):
        return None

    def codegen(context, builder, sig, args):
        at = builder.add(args[1], context.cast(builder, args[2], sig.args[2], _t.intp))
        builder.store(context.cast(builder, args[3], sig.args[3], _F), _ptr(context, builder, sig.args[0], args[0], at))
        return context.get_dummy_value()
    return _t.none(arr, _t.intp, i, x), codegen


class Slots(tuple):
    """The slots one grouped store (`stm`) writes, a module constant of a generated kernel
    (`STORE_SLOTS_0 = Slots((124, 129))`, step_locals.group_stores). Numba types it as a
    `SlotsType`, which holds the slot numbers, so that `stm` writes them into its stores as
    constants and the tuple itself costs no instruction: a tuple written in a function is
    a constant per number, and a tuple constant an LLVM instruction per number each naming
    the tuple's type in full (in World3's time loop, half of the unoptimised code LLVM
    parsed)."""
    __slots__ = ()


class SlotsType(_t.Type):
    """Numba's type of a `Slots` constant: its slot numbers are the type (one type per
    tuple of them); its value is nothing."""

    def __init__(self, slots):
        self.slots = tuple(int(s) for s in slots)
        super().__init__(name=f"Slots{self.slots}")


@typeof_impl.register(Slots)
def _typeof_slots(val, c):
    return SlotsType(val)


register_model(SlotsType)(models.OpaqueModel)


@lower_constant(SlotsType)
def _slots_constant(context, builder, ty, pyval):
    return context.get_dummy_value()


@intrinsic
def stm(typingctx, arr, idx, xs):
    """arr[idx[j]] = xs[j] for every j, in order: the slots as a `Slots` constant (or a tuple
    of integers) and a tuple of numbers; one call where a store each took one
    (step_locals.group_stores)."""
    n_idx = len(idx.slots) if isinstance(idx, SlotsType) else \
        len(idx) if isinstance(idx, _t.BaseTuple) and all(isinstance(t, _t.Integer) for t in idx) else None
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and arr.mutable and n_idx is not None
            and isinstance(xs, _t.BaseTuple) and n_idx == len(xs) and all(isinstance(t, _t.Number) for t in xs)):
        return None

    def codegen(context, builder, sig, args):
        aryty, idxty, xsty = sig.args
        for j in range(len(xsty)):
            at = context.get_constant(_t.intp, idxty.slots[j]) if isinstance(idxty, SlotsType) else \
                context.cast(builder, builder.extract_value(args[1], j), idxty[j], _t.intp)
            x = context.cast(builder, builder.extract_value(args[2], j), xsty[j], _F)
            builder.store(x, _ptr(context, builder, aryty, args[0], at))
        return context.get_dummy_value()
    return _t.none(arr, idx, xs), codegen


def load_int(context, builder, aryty, ary, idx):
    """The code of `tk(ary, idx)`: int(ary[idx])."""
    return builder.fptosi(builder.load(_ptr(context, builder, aryty, ary, idx)), context.get_value_type(_t.int64))


@intrinsic
def tk(typingctx, arr, idx):
    """int(arr[idx]): a lookup table's offset or length from the table header
    (one typed call where `np.int64(tab[k])` costs three)."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F):
        return None

    def codegen(context, builder, sig, args):
        return load_int(context, builder, sig.args[0], *args)
    return _t.int64(arr, _t.intp), codegen


def watch(context, builder, aryty, ary, s, x):
    """The code of `watched(ary, s, x)` (an intrinsic's), its value x."""
    return _watch(builder, lambda i: _ptr(context, builder, aryty, ary, i), s, x)


def _watch(builder, at, s, x):
    """`watch` with `at(i)` the pointer to element i of the vector."""
    slot = [at(builder.add(s, s.type(k))) for k in range(5)]
    lo, hi, back = builder.load(slot[0]), builder.load(slot[1]), builder.load(slot[4])
    is_below = builder.fcmp_ordered("<", x, lo)
    is_above = builder.fcmp_ordered(">", x, hi)
    outside = builder.or_(is_below, is_above)
    pending = builder.fcmp_unordered("!=", back, back)       # NaN: out, not back yet
    with builder.if_then(builder.or_(outside, pending), likely=False):
        t = builder.load(at(s.type(0)))
        below, above = builder.load(slot[2]), builder.load(slot[3])

        def first(when, old):
            return builder.select(when, builder.select(builder.fcmp_ordered("<", t, old), t, old), old)
        out_before = builder.fcmp_ordered("<", builder.select(builder.fcmp_ordered("<", below, above),
                                                              below, above), t)
        builder.store(first(is_below, below), slot[2])
        builder.store(first(is_above, above), slot[3])
        never_out = builder.fcmp_ordered("==", back, x.type(float("inf")))
        within = builder.and_(builder.fcmp_ordered(">=", x, lo), builder.fcmp_ordered("<=", x, hi))
        back_now = builder.and_(builder.and_(within, pending), out_before)
        builder.store(builder.select(builder.and_(outside, never_out), x.type(float("nan")),
                                     builder.select(back_now, t, back)), slot[4])
    return x


@intrinsic
def watched_lookup(typingctx, v, s, x, tab, k):
    """lookup(watched(v, s, x), tab, tk(tab, 2k), tk(tab, 2k + 1)) (kernel_lib.lookup, the
    same operations in the same order, so the same numbers): table k at x, x watched in
    v[s:s+5], as one call of one function of the module, defined on its first use
    (`_watched_lookup_function`). A kernel's front end (bytecode, typing, lowering) takes one
    call where the four took seven instructions; and LLVM optimises and compiles the watch
    and the lookup's search loop once, where their copies inlined at every call took half of
    World3's cold compile after the front end. The call passes the vectors' data pointers and
    three numbers in registers (fastcc): World3 runs at least as fast as with the copies
    (Numba's own call of `lookup` out of line, its status and its array passed field by
    field, made runs 15 % slower)."""
    if not all(isinstance(a, _t.Array) and a.ndim == 1 and a.dtype == _F and a.layout == "C" for a in (v, tab)) \
            or not v.mutable:
        return None

    def codegen(context, builder, sig, args):
        vv, ss, xx, tt, kk = args
        data = [builder.extract_value(a, context.data_model_manager[t].get_field_position("data"))
                for a, t in ((vv, sig.args[0]), (tt, sig.args[3]))]
        fn = _watched_lookup_function(builder.module)
        return builder.call(fn, [data[0], ss, xx, data[1], kk], cconv="fastcc")
    return _F(v, _t.intp, _F, tab, _t.intp), codegen


def _internal(module, name, ret, args):
    """The module's function `name` and whether its body is still to be written."""
    fn = _cg.get_or_insert_function(module, _ll.FunctionType(ret, args), name)
    if not fn.is_declaration:
        return fn, False
    fn.linkage, fn.calling_convention = "internal", "fastcc"
    fn.attributes.add("noinline")
    return fn, True


def _watched_lookup_function(module):
    f64, i64 = _ll.DoubleType(), _ll.IntType(64)
    fn, new = _internal(module, "smartspec_watched_lookup", f64, [f64.as_pointer(), i64, f64, f64.as_pointer(), i64])
    if not new:
        return fn
    v, s, x, tab, k = fn.args
    b = _ll.IRBuilder(fn.append_basic_block("entry"))
    y = _watch(b, lambda i: b.gep(v, [i], inbounds=True), s, x)
    k2 = b.mul(k, i64(2))
    off, n = (b.fptosi(b.load(b.gep(tab, [b.add(k2, i64(j))], inbounds=True)), i64) for j in (0, 1))
    b.ret(b.call(_lookup_function(module), [y, tab, off, n], cconv="fastcc"))
    return fn


def _lookup_function(module):
    """kernel_lib.lookup(x, tab, off, n) on the table's data pointer."""
    f64, i64 = _ll.DoubleType(), _ll.IntType(64)
    fn, new = _internal(module, "smartspec_lookup", f64, [f64, f64.as_pointer(), i64, i64])
    if not new:
        return fn
    x, data, off, n = fn.args
    b = _ll.IRBuilder(fn.append_basic_block("entry"))
    blocks = [fn.append_basic_block(name) for name in ("below", "upper", "above", "search", "halve", "found")]
    below, upper, above, search, halve, found = blocks

    def at(i):
        return b.load(b.gep(data, [i], inbounds=True))
    # x <= xs[0]: ys[0]; x >= xs[n - 1]: ys[n - 1] (ordered compares: a NaN x goes on to search)
    b.cbranch(b.fcmp_ordered("<=", x, at(off)), below, upper)
    b.position_at_end(below)
    b.ret(at(b.add(off, n)))
    b.position_at_end(upper)
    last = b.sub(n, i64(1))
    b.cbranch(b.fcmp_ordered(">=", x, at(b.add(off, last))), above, search)
    b.position_at_end(above)
    b.ret(at(b.add(b.add(off, n), last)))
    b.position_at_end(search)
    entry = b.block
    b.position_at_end(halve)
    lo, hi = b.phi(i64), b.phi(i64)
    lo.add_incoming(i64(0), entry)
    hi.add_incoming(last, entry)
    b.position_at_end(search)
    b.branch(halve)
    b.position_at_end(halve)
    more = b.icmp_signed(">", b.sub(hi, lo), i64(1))
    step = fn.append_basic_block("step")
    b.cbranch(more, step, found)
    b.position_at_end(step)
    mid = b.sdiv(b.add(lo, hi), i64(2))     # lo + hi >= 0: floor division
    left = b.fcmp_ordered("<=", at(b.add(off, mid)), x)
    lo.add_incoming(b.select(left, mid, lo), step)
    hi.add_incoming(b.select(left, hi, mid), step)
    b.branch(halve)
    b.position_at_end(found)
    x0, x1 = at(b.add(off, lo)), at(b.add(off, hi))
    y0, y1 = at(b.add(b.add(off, n), lo)), at(b.add(b.add(off, n), hi))
    # y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    b.ret(b.fadd(y0, b.fdiv(b.fmul(b.fsub(x, x0), b.fsub(y1, y0)), b.fsub(x1, x0))))
    return fn


@intrinsic
def watched(typingctx, arr, idx, x):
    """x, after recording in the watch arr[idx:idx+5] = (lo, hi, below, above, back) the first
    time (arr[0]) x is below lo, the first time it is above hi, and the first time it is
    within [lo, hi] after being outside (a NaN x is neither outside nor within: it is reported
    as a NaN); +inf until then, and `back` NaN while x is outside and has not come back yet.
    The common case, x within its range with nothing pending, reads lo, hi and back and
    branches past the rest: no store, so the kernel's other values stay in registers. World3
    (165 lookup calls a step) ran 1.3x its unwatched time with selects and three stores on
    every call, 2.4x with an njit helper (kernel_extra.watch_setup, runtime/diagnostics)."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and arr.mutable):
        return None

    def codegen(context, builder, sig, args):
        return watch(context, builder, sig.args[0], *args)
    return _F(arr, _t.intp, _F), codegen


@intrinsic
def ix(typingctx, n):
    """An integer argument Numba does not treat as a compile-time literal: a literal
    passed to an njit helper compiles a separate specialisation per call site."""
    if not isinstance(n, _t.Integer):
        return None

    def codegen(context, builder, sig, args):
        return context.cast(builder, args[0], sig.args[0], _t.int64)
    return _t.int64(n), codegen


def _zero(builder, x):
    return x.type(0.0)


def _near_zero(builder, x):
    fabs = builder.module.declare_intrinsic("llvm.fabs", [x.type])
    return builder.fcmp_ordered("<", builder.call(fabs, [x]), x.type(XIDZ_EPS))


@intrinsic
def sel(typingctx, c, a, b):
    """IF THEN ELSE: a if c != 0 (NaN counts as true) else b; both are evaluated."""
    def codegen(context, builder, sig, args):
        c, a, b = args
        return builder.select(builder.fcmp_unordered("!=", c, _zero(builder, c)), a, b)
    return _F(_F, _F, _F), codegen


@intrinsic
def bf(typingctx, c):
    """A comparison's truth as 1.0 or 0.0."""
    def codegen(context, builder, sig, args):
        return builder.uitofp(args[0], context.get_value_type(_F))
    return _F(_t.boolean), codegen


def _bool_to_f(context, builder, bit):
    return builder.uitofp(bit, context.get_value_type(_F))


def _truths(builder, a, b):
    """Each argument's truth as an LLVM bit: non-zero, NaN counting as true."""
    return builder.fcmp_unordered("!=", a, _zero(builder, a)), builder.fcmp_unordered("!=", b, _zero(builder, b))


@intrinsic
def fand(typingctx, a, b):
    """:AND: as 1.0 or 0.0."""
    def codegen(context, builder, sig, args):
        return _bool_to_f(context, builder, builder.and_(*_truths(builder, *args)))
    return _F(_F, _F), codegen


@intrinsic
def forr(typingctx, a, b):
    """:OR: as 1.0 or 0.0."""
    def codegen(context, builder, sig, args):
        return _bool_to_f(context, builder, builder.or_(*_truths(builder, *args)))
    return _F(_F, _F), codegen


@intrinsic
def fnot(typingctx, a):
    def codegen(context, builder, sig, args):
        return _bool_to_f(context, builder, builder.fcmp_ordered("==", args[0], _zero(builder, args[0])))
    return _F(_F), codegen


@intrinsic
def fmin(typingctx, a, b):
    """a if a < b else b (b when either is NaN), as vmin."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(builder.fcmp_ordered("<", a, b), a, b)
    return _F(_F, _F), codegen


@intrinsic
def fmax(typingctx, a, b):
    """a if a > b else b (b when either is NaN), as vmax."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(builder.fcmp_ordered(">", a, b), a, b)
    return _F(_F, _F), codegen


@intrinsic
def fxidz(typingctx, a, b, x):
    """Vensim XIDZ: x if |b| < 1e-6 else a / b."""
    def codegen(context, builder, sig, args):
        a, b, x = args
        return builder.select(_near_zero(builder, b), x, builder.fdiv(a, b))
    return _F(_F, _F, _F), codegen


@intrinsic
def fzidz(typingctx, a, b):
    """Vensim ZIDZ: 0 if |b| < 1e-6 else a / b."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(_near_zero(builder, b), _zero(builder, b), builder.fdiv(a, b))
    return _F(_F, _F), codegen


@intrinsic
def fstep(typingctx, t, height, start):
    """Vensim STEP: height if t > start else 0 (callers pass t + TIME STEP/2)."""
    def codegen(context, builder, sig, args):
        t, h, s = args
        return builder.select(builder.fcmp_ordered(">", t, s), h, _zero(builder, h))
    return _F(_F, _F, _F), codegen


@intrinsic
def float_bits(typingctx, x):
    """The bits of the float64 x as an int64 (a bitcast, no memory): what a view of the
    state vector as integers gives, without the array that view makes on every call."""
    if x != _F:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(_t.int64))
    return _t.int64(_F), codegen


@intrinsic
def interrupted(typingctx):
    """Whether Ctrl-C (SIGINT) came while this time loop ran, which then stops it (asked
    every `ir.constants.INTERRUPT_EVERY` steps).

    Python's own handler runs only between bytecodes, never while a kernel's (or the
    interpreter's) loop runs in machine code; its C handler marks the signal as pending,
    which `PyOS_InterruptOccurred` reads and clears (the run, told by the loop, calls Python's
    handler once the loop has returned: `runtime/single.py`). Only the main thread handles
    signals, and the C API wants the GIL: a thread not holding it (a batch's worker threads,
    `prange`) is told False by `PyGILState_Check` without touching Python's state. The
    single-run drivers that call it keep the GIL (compiled without `nogil`)."""
    def codegen(context, builder, sig, args):
        i32, mod = _ll.IntType(32), builder.module
        holds = _cg.get_or_insert_function(mod, _ll.FunctionType(i32, []), "PyGILState_Check")
        came = _cg.get_or_insert_function(mod, _ll.FunctionType(i32, []), "PyOS_InterruptOccurred")
        out = _cg.alloca_once_value(builder, _cg.false_bit)
        with builder.if_then(builder.icmp_signed("!=", builder.call(holds, []), i32(0))):
            with builder.if_then(builder.icmp_signed("!=", builder.call(came, []), i32(0))):
                builder.store(_cg.true_bit, out)
        return builder.load(out)
    return _t.boolean(), codegen
