"""Differential tests of arrayed models: both routes and both tiers against a reference.

Hypothesis writes random, well-formed models over one or two subscript ranges of 2-4
elements (and sometimes a subrange of the first): constants given as lists of numbers,
stocks and auxiliaries over the ranges, apply-to-all equations built from random
expressions (element-wise arithmetic, scalars, a fixed element, a subscript used as a
number, a lookup, SMOOTH and DELAY1), the reductions SUM, PROD, VMIN and VMAX over a range
or a subrange (`x[R!]`), arrays defined element by element, by a subrange and the
elements it leaves out, and by an :EXCEPT: equation with the excepted element's own.

Each generated model is held as a small tree and written twice:

* as Vensim's array text, which smartspec runs on the dense route and on the per-element
  route (the dense gate forced off for that file, as tests/test_dense_route.py does), each
  on the compiled tier (one compile per route) and on the interpreter tier;
* as the same model with every element its own scalar variable (`v2[r1,s2]` becomes
  `v2 r1 s2`), a reduction written out as its sum, product, MIN or MAX of the elements,
  an :EXCEPT: or a subrange as the elements it covers. This is Vensim's documented meaning
  of the subscripts ("Subscripts", "SUM", "VMIN"...), spelt out by the test, so the
  expected values do not come from smartspec's own subscript expansion.

tests/reference_eval.py runs the scalar model; every column of the four runs must match it
within test_differential's tolerance, the two routes must agree with each other to 1e-12
(as in tests/test_dense_route.py), and the reference run of the array text itself must
match the scalar model (the per-element lowering against the written-out meaning).

Each example costs two compiles (~1 s each on a quiet machine); set SMARTSPEC_DIFF_EXAMPLES
to run more, SMARTSPEC_DIFF_SHRINK=1 to shrink a failure.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

import smartspec_dsl
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline

from conftest import model_file
from reference_eval import ReferenceResult, simulate as reference_simulate
from test_differential import ATOL, LITERALS, RTOL, assert_matches

FLAT_SUFFIX = "\n{ per element }\n"   # another text, so another kernel in the cache


# ---- the model as a tree -------------------------------------------------------------
#
# An expression is a tuple:
#   ("num", text) | ("time",) | ("pos", D)                  a subscript used as a number
#   ("ref", var, subs)       subs per dimension of var: ("dim", D) bound by the equation,
#                            ("elem", e) a fixed element
#   ("red", FUNC, var, subs) the same, with ("bang", D) for the dimensions reduced
#   ("op", sym, a, b) | ("fn", NAME, a, ...) | ("lookup", a) | ("div", a, b) | ("ite", op, a, b, c, d)
#   ("smooth", a, delay) | ("delay1", a, delay)


@dataclass
class Ranges:
    elems: dict[str, list[str]]                   # range name -> its elements
    parent: dict[str, str] = field(default_factory=dict)   # subrange -> its range

    def covers(self, var_dim: str, eq_dim: str) -> bool:
        """Can a variable's dimension `var_dim` be subscripted by the equation's `eq_dim`?"""
        return var_dim == eq_dim or self.parent.get(eq_dim) == var_dim


@dataclass
class Var:
    name: str
    dims: tuple[str, ...]


def _elements(ranges: Ranges, dims: tuple[str, ...]) -> list[tuple[str, ...]]:
    out = [()]
    for d in dims:
        out = [t + (e,) for t in out for e in ranges.elems[d]]
    return out


@st.composite
def subscripts(draw, ranges: Ranges, var: Var, eq_dims: tuple[str, ...], reduce: bool):
    """Subscripts for reading `var` in an equation over `eq_dims`; with `reduce`, at least
    one is a bang."""
    subs = []
    for d in var.dims:
        options = [("elem", e) for e in ranges.elems[d]]
        options += [("dim", e) for e in eq_dims if ranges.covers(d, e)]
        if reduce:
            options += [("bang", d)] * 2 + [("bang", s) for s, p in ranges.parent.items() if p == d]
        subs.append(draw(st.sampled_from(options)))
    if reduce and not any(s[0] == "bang" for s in subs):
        i = draw(st.integers(0, len(subs) - 1))
        subs[i] = ("bang", var.dims[i])
    return tuple(subs)


@st.composite
def expressions(draw, ranges: Ranges, known: list[Var], eq_dims: tuple[str, ...], lookup: bool,
                depth: int, stateful: bool = True):
    """A random expression for an equation over `eq_dims`, reading the variables `known`."""
    readable = known
    arrays = [v for v in known if v.dims]
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        kind = draw(st.integers(0, 9))
        if kind <= 1 or not readable:
            return ("num", draw(LITERALS))
        if kind == 2:
            return ("time",)
        if kind == 3 and eq_dims:
            d = draw(st.sampled_from(eq_dims))
            if d not in ranges.parent:     # (a subrange's numbering is not documented)
                return ("pos", d)
        if kind <= 5 and arrays:
            var = draw(st.sampled_from(arrays))
            return ("red", draw(st.sampled_from(["SUM", "PROD", "VMIN", "VMAX"])), var.name,
                    draw(subscripts(ranges, var, eq_dims, reduce=True)))
        var = draw(st.sampled_from(readable))
        return ("ref", var.name, draw(subscripts(ranges, var, eq_dims, reduce=False)))

    def sub():
        return draw(expressions(ranges, known, eq_dims, lookup, depth - 1, stateful))

    kinds = ["add", "mul", "sub", "div", "min", "max", "abs", "ite", "exp", "sqrt", "neg"]
    if stateful:
        kinds[1:1] = ["smooth", "delay1"]
    if lookup:
        kinds[1:1] = ["lookup"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("smooth", "delay1"):
        inner = draw(expressions(ranges, known, eq_dims, lookup, depth - 1, stateful=False))
        return (kind, inner, draw(st.sampled_from(["0.5", "1", "2"])))
    a = sub()
    if kind in ("add", "mul", "sub"):
        return ("op", {"add": "+", "mul": "*", "sub": "-"}[kind], a, sub())
    if kind == "div":
        return ("div", a, sub())
    if kind in ("min", "max"):
        return ("fn", kind.upper(), a, sub())
    if kind == "abs":
        return ("fn", "ABS", a)
    if kind == "exp":
        return ("exp", a)
    if kind == "sqrt":
        return ("sqrt", a)
    if kind == "neg":
        return ("neg", a)
    if kind == "lookup":
        return ("lookup", a)
    if kind == "ite":
        return ("ite", draw(st.sampled_from(["<", ">=", "="])), a, sub(), sub(), sub())
    raise AssertionError(kind)


def render(e, bind: dict[str, str] | None, ranges: Ranges) -> str:
    """Vensim text of `e`: with subscripts when `bind` is None, else for the one element
    that `bind` (dimension -> element) names, every variable a scalar."""
    def r(x):
        return render(x, bind, ranges)

    tag = e[0]
    if tag == "num":
        return e[1] if not e[1].startswith("-") else f"({e[1]})"
    if tag == "time":
        return "Time"
    if tag == "pos":
        # a subscript used as a number is the element's position in the range, from 1
        return e[1] if bind is None else str(ranges.elems[e[1]].index(bind[e[1]]) + 1)
    if tag == "ref":
        return _ref(e[1], e[2], bind, {})
    if tag == "red":
        func, name, subs = e[1:]
        if bind is None:
            return f"{func}({_ref(name, subs, None, {})})"
        bangs = [s[1] for s in subs if s[0] == "bang"]
        terms = [_ref(name, subs, bind, dict(zip(bangs, t))) for t in _elements(ranges, tuple(bangs))]
        if func in ("SUM", "PROD"):
            return "(" + (" + " if func == "SUM" else " * ").join(terms) + ")"
        acc = terms[0]
        for t in terms[1:]:
            acc = f"{func[1:]}({acc}, {t})"     # VMIN -> MIN, VMAX -> MAX
        return acc
    if tag == "op":
        return f"({r(e[2])} {e[1]} {r(e[3])})"
    if tag == "div":
        return f"({r(e[1])} / (ABS({r(e[2])}) + 1))"
    if tag == "fn":
        return f"{e[1]}({', '.join(r(x) for x in e[2:])})"
    if tag == "exp":
        return f"EXP(MIN({r(e[1])}, 5))"
    if tag == "sqrt":
        return f"SQRT(ABS({r(e[1])}))"
    if tag == "neg":
        return f"(-{r(e[1])})"
    if tag == "lookup":
        return f"tab({r(e[1])})"
    if tag == "ite":
        return f"IF THEN ELSE({r(e[2])} {e[1]} {r(e[3])}, {r(e[4])}, {r(e[5])})"
    if tag in ("smooth", "delay1"):
        return f"{'SMOOTH' if tag == 'smooth' else 'DELAY1'}({r(e[1])}, {e[2]})"
    raise AssertionError(tag)


def _ref(name: str, subs, bind, bang_bind) -> str:
    if bind is None:
        if not subs:
            return name
        return f"{name}[{', '.join(s[1] + ('!' if s[0] == 'bang' else '') for s in subs)}]"
    elems = []
    for kind, what in subs:
        elems.append(what if kind == "elem" else bind[what] if kind == "dim" else bang_bind[what])
    return " ".join([name, *elems])


# ---- random models ----------------------------------------------------------------------

@dataclass
class Generated:
    array_text: str
    scalar_text: str
    outputs: dict[str, str]      # canonical array column -> canonical scalar name
    constants: list[str]         # the array columns of the constants' elements


def _text(eqs: list[str], control: list[str]) -> str:
    return "{UTF-8}\n" + "\n".join(f"{e} ~~|" for e in eqs + control) + \
        "\n\\\\\\---/// Sketch information - ignored\n"


@st.composite
def array_models(draw) -> Generated:
    """A random arrayed model, as array text and written out element by element."""
    n_r = draw(st.integers(2, 4))
    ranges = Ranges({"r": [f"r{i + 1}" for i in range(n_r)]})
    if draw(st.booleans()):
        ranges.elems["s"] = [f"s{i + 1}" for i in range(draw(st.integers(2, 3)))]
    if n_r >= 3 and draw(st.booleans()):
        ranges.elems["sub"] = draw(st.lists(st.sampled_from(ranges.elems["r"]), min_size=2,
                                            max_size=n_r - 1, unique=True).map(
            lambda xs: sorted(xs, key=ranges.elems["r"].index)))
        ranges.parent["sub"] = "r"
    full = [d for d in ranges.elems if d not in ranges.parent]
    shapes = [(d,) for d in full] + ([("r", "s")] if "s" in ranges.elems else [])
    arr_eqs = [f"{d}: {', '.join(ranges.elems[d])}" for d in ranges.elems]
    sca_eqs: list[str] = []
    outputs: dict[str, str] = {}
    known: list[Var] = []

    def declare(var: Var):
        known.append(var)
        for t in _elements(ranges, var.dims):
            col = f"{var.name}[{','.join(t)}]" if t else var.name
            outputs[col] = " ".join([var.name, *t])

    def a2a(var: Var, expr, eq_dims=None, except_=None):
        """`var` over `eq_dims` (default its own) by one equation; scalar copies of each element."""
        eq_dims = eq_dims or var.dims
        head = f"{var.name}[{', '.join(eq_dims)}]" if eq_dims else var.name
        if except_:
            head += f" :EXCEPT: [{except_}]"
        arr_eqs.append(f"{head} = {render(expr, None, ranges)}")
        for t in _elements(ranges, eq_dims):
            if except_ in t:
                continue
            # a subrange's element is the variable's element of the same name
            sca_eqs.append(f"{' '.join([var.name, *t])} = {render(expr, dict(zip(eq_dims, t)), ranges)}")

    # constants: scalars and lists of numbers (a 2-D list row by row)
    for i in range(draw(st.integers(1, 2))):
        var = Var(f"c{i + 1}", draw(st.sampled_from([()] + shapes)))
        values = [draw(LITERALS) for _ in _elements(ranges, var.dims)]
        if var.dims:
            width = len(ranges.elems[var.dims[-1]])
            rows = [", ".join(values[k:k + width]) for k in range(0, len(values), width)]
            arr_eqs.append(f"{var.name}[{', '.join(var.dims)}] = {'; '.join(rows)}")
        else:
            arr_eqs.append(f"{var.name} = {values[0]}")
        for t, v in zip(_elements(ranges, var.dims), values):
            sca_eqs.append(f"{' '.join([var.name, *t])} = {v}")
        declare(var)
    constants = list(known)
    constant_columns = list(outputs)

    lookup = draw(st.booleans())
    if lookup:
        table = "tab((-2, 1), (0, 0), (1, 3), (3, -1))"
        arr_eqs.append(table)
        sca_eqs.append(table)

    # stocks start from constants; their rates (written last) may read everything
    stocks = [Var(f"st{i + 1}", draw(st.sampled_from(shapes))) for i in range(draw(st.integers(1, 2)))]
    inits = [draw(expressions(ranges, constants, s.dims, False, 1, stateful=False)) for s in stocks]
    for s in stocks:
        declare(s)

    # auxiliaries read constants, stocks, Time and earlier auxiliaries (no algebraic loop)
    for i in range(draw(st.integers(2, 5))):
        form = draw(st.sampled_from(["a2a", "a2a", "scalar", "elements", "except", "subrange", "on sub"]))
        name = f"v{i + 1}"
        if form == "scalar":
            var = Var(name, ())
            a2a(var, draw(expressions(ranges, known, (), lookup, 3)))
        elif form == "a2a" or (form == "on sub" and "sub" not in ranges.elems):
            var = Var(name, draw(st.sampled_from(shapes)))
            a2a(var, draw(expressions(ranges, known, var.dims, lookup, 3)))
        elif form == "on sub":   # an array over the subrange only
            var = Var(name, ("sub",))
            a2a(var, draw(expressions(ranges, known, var.dims, lookup, 3)))
        elif form == "elements":   # y[r1] = ..., y[r2] = ..., one equation per element
            var = Var(name, ("r",))
            for e in ranges.elems["r"]:
                expr = draw(expressions(ranges, known, (), lookup, 2))
                arr_eqs.append(f"{name}[{e}] = {render(expr, None, ranges)}")
                sca_eqs.append(f"{name} {e} = {render(expr, {}, ranges)}")
        elif form == "except" or "sub" not in ranges.elems:
            var = Var(name, ("r",))
            out = draw(st.sampled_from(ranges.elems["r"]))
            a2a(var, draw(expressions(ranges, known, ("r",), lookup, 3)), except_=out)
            expr = draw(expressions(ranges, known, (), lookup, 2))
            arr_eqs.append(f"{name}[{out}] = {render(expr, None, ranges)}")
            sca_eqs.append(f"{name} {out} = {render(expr, {}, ranges)}")
        else:   # the subrange by one equation, the elements it leaves out by their own
            var = Var(name, ("r",))
            a2a(var, draw(expressions(ranges, known, ("sub",), lookup, 3)), eq_dims=("sub",))
            for e in ranges.elems["r"]:
                if e not in ranges.elems["sub"]:
                    expr = draw(expressions(ranges, known, (), lookup, 2))
                    arr_eqs.append(f"{name}[{e}] = {render(expr, None, ranges)}")
                    sca_eqs.append(f"{name} {e} = {render(expr, {}, ranges)}")
        declare(var)

    for s, init in zip(stocks, inits):
        rate = ("fn", "MIN", ("fn", "MAX", draw(expressions(ranges, known, s.dims, lookup, 2)),
                              ("num", "-20")), ("num", "20"))
        head = f"{s.name}[{', '.join(s.dims)}]" if s.dims else s.name
        arr_eqs.append(f"{head} = INTEG({render(rate, None, ranges)}, {render(init, None, ranges)})")
        for t in _elements(ranges, s.dims):
            b = dict(zip(s.dims, t))
            sca_eqs.append(f"{' '.join([s.name, *t])} = INTEG({render(rate, b, ranges)}, {render(init, b, ranges)})")

    control = ["INITIAL TIME = 0", f"FINAL TIME = {draw(st.sampled_from(['2', '3']))}",
               f"TIME STEP = {draw(st.sampled_from(['0.25', '0.125']))}",
               f"SAVEPER = {draw(st.sampled_from(['TIME STEP', 'TIME STEP', '0.5']))}"]
    for c in ("initial time", "final time", "time step", "saveper"):
        outputs[c] = c
    return Generated(_text(list(draw(st.permutations(arr_eqs))), control), _text(sca_eqs, control), outputs,
                     constant_columns)


# ---- running ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A private kernel cache, and the dense gate off for the files of the per-element route."""
    root = tmp_path_factory.mktemp("differential_arrays")
    routed = pipeline.dense_arrays
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMARTSPEC_CACHE_DIR", str(root / "cache"))
        mp.setattr(pipeline, "dense_arrays",
                   lambda model, edits: set() if model.source.endswith("_flat.mdl") else routed(model, edits))
        yield root


def _runs(folder, text: str, route: str):
    """The model of `text` on `route` ("dense" or "flat"), compiled once: its runs on the
    compiled tier and on the interpreter tier."""
    path = model_file(folder, text if route == "dense" else text + FLAT_SUFFIX)
    if route == "flat":
        path = path.rename(path.with_name(path.stem + "_flat.mdl"))
    model = smartspec_dsl.load(path, tier="compiled")
    return model, {tier: model.run(tier=tier) for tier in ("compiled", "interpreter")}


def _as_columns(ref: ReferenceResult, outputs: dict[str, str]) -> ReferenceResult:
    """The scalar model's results under the array model's column names."""
    return ReferenceResult(ref.time, {col: ref.values[name] for col, name in outputs.items()})


_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("SMARTSPEC_DIFF_SHRINK"):
    _PHASES.append(Phase.shrink)


@settings(max_examples=int(os.environ.get("SMARTSPEC_DIFF_EXAMPLES", "20")), deadline=None,
          phases=_PHASES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          print_blob=True)
@given(gen=array_models(), data=st.data())
def test_random_array_models_match_reference(model_dir, gen, data):
    text = gen.array_text
    note("model text:\n" + text)
    note("written out per element:\n" + gen.scalar_text)
    expected = _as_columns(reference_simulate(gen.scalar_text), gen.outputs)
    # the per-element lowering of the array text against the meaning the test spelt out
    lowered_ref = reference_simulate(text)
    assert set(lowered_ref.values) == set(expected.values)
    for col, want in expected.values.items():
        np.testing.assert_allclose(lowered_ref.values[col], want, rtol=RTOL, atol=ATOL, equal_nan=True,
                                   err_msg=f"reference run of the array text: {col}\n{text}")

    lowered = pipeline.lower(parse_model(text, "m.mdl")).variables
    event(f"arrays kept dense: {sum(bool(v.dims) for v in lowered.values())}")
    runs, sources, models = {}, {}, {}
    for route in ("dense", "flat"):
        model, by_tier = _runs(model_dir, text, route)
        sources[route], models[route] = model.kernel.source, model
        for tier, got in by_tier.items():
            assert_matches(got, expected, text, what=f"{route} route, {tier} tier\n")
            runs[route, tier] = got
    if any(v.dims for v in lowered.values()):   # the two routes really are two kernels
        assert sources["dense"] != sources["flat"]
    for tier in ("compiled", "interpreter"):
        dense, flat = runs["dense", tier], runs["flat", tier]
        assert sorted(dense.columns) == sorted(flat.columns)
        for c in flat.columns:
            np.testing.assert_allclose(dense[c], flat[c], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{c}: the routes differ ({tier} tier)\n{text}")

    # a run that sets one element of a constant, on the kernels already built
    col = data.draw(st.sampled_from(gen.constants), label="constant")
    value = data.draw(LITERALS.map(float), label="value")
    note(f"params: {{{col!r}: {value}}}")
    expected = _as_columns(reference_simulate(gen.scalar_text, {gen.outputs[col]: value}), gen.outputs)
    for route, model in models.items():
        for tier in ("compiled", "interpreter"):
            assert_matches(model.run(params={col: value}, tier=tier), expected, text,
                           what=f"{route} route, {tier} tier, params={{{col!r}: {value}}}\n")


def test_the_flat_route_is_forced(model_dir):
    """The per-element files are lowered without dense arrays, the others with them."""
    text = _text(["r: r1, r2", "x[r] = 1, 2", "y[r] = x[r] * Time"],
                 ["INITIAL TIME = 0", "FINAL TIME = 1", "TIME STEP = 0.5", "SAVEPER = 0.5"])
    assert pipeline.lower(parse_model(text, "m.mdl")).variables["y"].dims == ("r",)
    assert "y[r1]" in pipeline.lower(parse_model(text, "m_flat.mdl")).variables
