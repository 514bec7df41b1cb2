"""One pass at a time: a small model in, the IR (or the kernel text) after the
pass out, compared with what the pass's definition gives by hand. The
pipeline's boundaries: each pass's contract is checked, and a broken one names
the pass."""
from __future__ import annotations

from dataclasses import replace

import pytest

from smartspec_dsl import ir
from smartspec_dsl.backend.codegen import generate
from smartspec_dsl.errors import ModelError, PassContractError, UnsupportedFeature
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.macros import expand_macros
from smartspec_dsl.passes.order import schedule
from smartspec_dsl.passes.subscripts import flatten

CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"


def parsed(text: str) -> ir.Model:
    return parse_model(text + CONTROL, "t.mdl")


def show(e) -> str:
    """An expression as text: the golden form of these tests."""
    if e is None:
        return "-"
    if isinstance(e, ir.Num):
        return f"{e.value:g}"
    if isinstance(e, ir.Ref):
        return e.name + (f"[{','.join(e.subscripts)}]" if e.subscripts else "")
    if isinstance(e, ir.BinOp):
        return f"({show(e.left)} {e.op} {show(e.right)})"
    if isinstance(e, ir.UnaryOp):
        return f"{e.op}{show(e.operand)}"
    if isinstance(e, ir.Call):
        return f"{e.func}({', '.join(show(a) for a in e.args)})"
    if isinstance(e, ir.LookupCall):
        return f"{e.table}({show(e.arg)})"
    raise TypeError(e)


def equations(model: ir.Model, hidden_only: bool = False) -> dict[str, str]:
    return {n: f"{v.kind.value}: {show(v.expr)} | init {show(v.initial)}"
            for n, v in model.variables.items()
            if (v.hidden or not hidden_only) and n not in ir.CONTROL_NAMES}


# ---- the pipeline -----------------------------------------------------------------------

def test_the_pipeline_lists_every_pass_in_order():
    assert [p.name for p in pipeline.PASSES] == [
        "external data", "flattening", "data variables", "equation edits", "macro expansion", "data equations",
        "stateful lowering", "initial values"]
    assert type(parsed("x = 1 ~~|")) is ir.Model and parsed("x = 1 ~~|").stage is ir.Stage.PARSED
    lowered = pipeline.lower(parsed("x = 1 ~~|"))
    assert type(lowered) is ir.LoweredModel and lowered.stage is ir.Stage.LOWERED


def test_each_pass_takes_the_type_of_the_stage_before_it(monkeypatch):
    """The stage is in the type: each pass receives the model as the type its predecessor's
    contract gave it."""
    received = []

    def recording(p):
        return replace(p, run=lambda m, data, *values: (received.append(type(m)), p.run(m, data, *values))[1])
    monkeypatch.setattr(pipeline, "PASSES", tuple(recording(p) for p in pipeline.PASSES))
    pipeline.lower(parsed("x = 1 ~~|\ny = SMOOTH(x, 2) ~~|\n"))
    assert received == [ir.Model, ir.ExternalReadModel, ir.FlatModel, ir.FlatModel, ir.FlatModel,
                        ir.MacroFreeModel, ir.MacroFreeModel, ir.LoweredModel]


def test_a_pass_that_breaks_its_contract_is_named(monkeypatch):
    """A flattening that leaves subscripts fails at its own boundary, not in codegen."""
    broken = replace(pipeline.PASSES[1], run=lambda m, _, *route: m)
    monkeypatch.setattr(pipeline, "PASSES", (pipeline.PASSES[0], broken, *pipeline.PASSES[2:]))
    model = parsed("A: a1, a2 ~~|\nx[A] = 1, 2 ~~|\n")
    with pytest.raises(PassContractError, match="after the flattening pass: 'x' is still subscripted"):
        pipeline.lower(model)


def test_a_lowering_that_leaves_a_stateful_call_is_named(monkeypatch):
    i = [p.name for p in pipeline.PASSES].index("stateful lowering")
    broken = replace(pipeline.PASSES[i], run=lambda m, _: m, takes_values=False)
    monkeypatch.setattr(pipeline, "PASSES", (*pipeline.PASSES[:i], broken, *pipeline.PASSES[i + 1:]))
    with pytest.raises(PassContractError, match="after the stateful lowering pass: 'y' still calls SMOOTH"):
        pipeline.lower(parsed("x = 1 ~~|\ny = SMOOTH(x, 2) ~~|\n"))


def test_a_modellers_mistake_is_not_a_broken_contract(tmp_path):
    """Flattening leaves an array function in a model without subscripts: the
    modeller is told, not asked to report a bug."""
    with pytest.raises(UnsupportedFeature, match="'SUM' is not supported without subscripts"):
        pipeline.lower(parsed("x = 1 ~~|\ny = SUM(x) ~~|\n"))


def test_ordering_takes_only_a_lowered_model():
    with pytest.raises(PassContractError, match="ordering needs a lowered model, this one is parsed"):
        schedule(parsed("x = 1 ~~|"))
    flat = ir.at_stage(parsed("x = 1 ~~|"), ir.FlatModel)
    with pytest.raises(PassContractError, match="ordering needs a lowered model, this one is flat"):
        schedule(flat)
    with pytest.raises(PassContractError, match="take a parsed model; this one is lowered"):
        pipeline.lower(pipeline.lower(parsed("x = 1 ~~|")))


# ---- one pass each ----------------------------------------------------------------------

def test_flattening_gives_one_scalar_per_element_and_sums_them():
    flat = flatten(parsed("A: a1, a2, a3 ~~|\nx[A] = 1, 2, 3 ~~|\ntotal = SUM(x[A!]) ~~|\n"))
    eq = equations(flat)
    assert eq["x[a1]"] == "constant: 1 | init -" and eq["x[a3]"] == "constant: 3 | init -"
    # in element order, left to right, then + 0 as a loop from 0 (which only a sum of -0.0 sees:
    # flat_exprs.in_order)
    assert eq["total"] == "auxiliary: (((x[a1] + x[a2]) + x[a3]) + 0) | init -"
    assert pipeline.nothing_subscripted(flat) is None


def test_macro_expansion_copies_the_body_per_call():
    text = (":MACRO: DOUBLE(input)\nDOUBLE = 2 * input ~~|\n:END OF MACRO:\n"
            "a = 1 ~~|\nb = DOUBLE(a) + DOUBLE(3) ~~|\n")
    out = expand_macros(parsed(text))
    assert out.macros == {}
    eq = equations(out)
    # each call site gets its own hidden input and output; the order of the counts is the pass's walk
    calls = sorted(n for n in eq if n.startswith("double #call") and n.endswith(" double"))
    assert len(calls) == 2
    inputs = {eq[n.replace(" double", " input")] for n in calls}
    assert inputs == {"auxiliary: a | init -", "auxiliary: 3 | init -"}
    assert all(eq[n] == f"auxiliary: (2 * {n.replace(' double', ' input')}) | init -" for n in calls)
    assert eq["b"] == f"auxiliary: ({calls[1]} + {calls[0]}) | init -" or \
        eq["b"] == f"auxiliary: ({calls[0]} + {calls[1]}) | init -"


def test_delay3_becomes_three_stocks_in_series():
    """Vensim's DELAY3(input, delay): three first-order stages, each with time
    constant delay / 3, each starting at input x delay / 3 (its steady state)."""
    low = pipeline.lower(parsed("x = 3 ~~|\ny = DELAY3(x, 6) ~~|\n"))
    assert equations(low, hidden_only=True) == {
        "y #delay3time1": "auxiliary: (6 / 3) | init -",
        "y #delay31_2": "stock: (x - (y #delay31_2 / y #delay3time1)) | init (x * y #delay3time1)",
        "y #delay31out3": "auxiliary: (y #delay31_2 / y #delay3time1) | init -",
        "y #delay32_4": "stock: (y #delay31out3 - (y #delay32_4 / y #delay3time1)) | init (x * y #delay3time1)",
        "y #delay32out5": "auxiliary: (y #delay32_4 / y #delay3time1) | init -",
        "y #delay33_6": "stock: (y #delay32out5 - (y #delay33_6 / y #delay3time1)) | init (x * y #delay3time1)",
        "y #delay33out7": "auxiliary: (y #delay33_6 / y #delay3time1) | init -",
    }
    assert show(low.variables["y"].expr) == "y #delay33out7"
    assert pipeline.no_stateful_calls(low) is None


def test_delay_fixed_stays_a_call_for_the_kernel_buffer():
    low = pipeline.lower(parsed("x = TIME ~~|\ny = DELAY FIXED(x, 2, 0) ~~|\n"))
    buffered = [v for v in low.variables.values() if isinstance(v.expr, ir.Call)]
    assert [(v.hidden, show(v.expr)) for v in buffered] == [(True, "DELAY FIXED(x, 2, 0)")]
    assert show(low.variables["y"].expr) == buffered[0].name


def test_order_puts_each_equation_after_what_it_reads():
    sched = schedule(pipeline.lower(parsed(
        "c = b * 2 ~~|\nb = a + 1 ~~|\na = TIME ~~|\ns = INTEG(c, 0) ~~|\nk = 5 ~~|\n")))
    assert "k" in sched.constants
    assert sched.stocks == ("s",)
    assert sched.dynamic == ("a", "b", "c")       # TIME-driven chain, in dependency order
    assert sched.initial.index("a") < sched.initial.index("b") < sched.initial.index("c")


def test_codegen_writes_each_equation_as_one_statement_on_slots():
    kernel = generate(schedule(pipeline.lower(parsed("k = 5 ~~|\ny = k * 2 + TIME ~~|\n"))))
    y, k, t = kernel.slots["y"], kernel.slots["k"], kernel.slots[ir.TIME]
    assert f"st(v, {y}, ((ld(v, {k}) * 2.0) + ld(v, {t})))  # y" in kernel.source
    # nothing of the model's text becomes code but the comment naming the variable
    assert kernel.params == ("k", "initial time", "final time", "time step", "saveper")


def test_parse_gives_kinds_and_resolves_lookup_calls():
    """A variable in a stock's rate is a flow; `name(x)` of a lookup is a lookup call."""
    eq = equations(parsed("s = INTEG(f, 10) ~~|\nf = k * s ~~|\nk = 0.1 ~~|\n"
                          "tab((0,0),(1,2)) ~~|\ny = tab(k) ~~|\n"))
    assert eq["s"] == "stock: f | init 10"
    assert eq["f"] == "flow: (k * s) | init -"
    assert eq["k"] == "constant: 0.1 | init -"
    assert eq["tab"] == "lookup: - | init -"
    assert eq["y"] == "auxiliary: tab(k) | init -"


def test_smooth_and_trend_are_vensims_definitions():
    """SMOOTH(x, t): a stock s' = (x - s)/t from x. TREND(x, t, g): its average
    is SMOOTHI(x, t, x / (1 + g t)), the result ZIDZ(x - average, t ABS(average))."""
    low = pipeline.lower(parsed("x = 3 ~~|\ny = SMOOTH(x, 4) ~~|\nz = TREND(x, 5, 0.1) ~~|\n"))
    assert equations(low, hidden_only=True) == {
        "y #smooth1_1": "stock: ((x - y #smooth1_1) / 4) | init x",
        "z #average1": "stock: ((x - z #average1) / 5) | init (x / (1 + (0.1 * 5)))",
    }
    assert show(low.variables["y"].expr) == "y #smooth1_1"
    assert show(low.variables["z"].expr) == "ZIDZ((x - z #average1), (5 * ABS(z #average1)))"


def test_an_order_that_is_not_a_number_says_why():
    """DELAY N's order LN(k) with k = 0 (and k / k) is not a number at the initial time: the
    error says so and names what the order reads, rather than "at least 1, got nan"; an
    order of -1 is still "at least 1, got -1"."""
    base = "k = 0 ~~|\nx = 5 ~~|\nd = DELAY N(x, 2, 0, {}) ~~|\n" \
           "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
    for order in ("LN(k)", "k / k"):
        with pytest.raises(ModelError, match=r"m.mdl:3:5: DELAY N's order is NaN at the initial time: a "
                                             r"floating-point error .* in what it reads \('k'\)"):
            pipeline.lower(parse_model(base.format(order), "m.mdl"))
    with pytest.raises(ModelError, match=r"m.mdl:3:5: DELAY N's order must be at least 1, got -1"):
        pipeline.lower(parse_model(base.format("-k - 1"), "m.mdl"))
