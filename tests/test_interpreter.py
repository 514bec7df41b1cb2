"""The interpreter tier (backend/tape.py, backend/interpreter.py) gives the
specialised kernel's numbers: the conformance cases that together use every operation
of every passing case's kernel (`COMPARED`), World3 (with Euler, RK4 and a changes file)
and seeded batches of random models run on both tiers and agree to 1e-12 relative;
NOT_BIT_IDENTICAL lists every case that is not bit for bit the same, with why (none
today). SMARTSPEC_EVERY_CASE=1 compares every passing case (143 compiles, minutes)."""
from __future__ import annotations

import ast
import os
from dataclasses import replace

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.backend import aot, interpreter_aot, tier0
from smartspec_dsl.backend.tape import OPS, TapeUnsupported, build_tape

from conftest import SHARED
from test_conformance import find_cases, ratchet

WORLD3 = SHARED / "real-models" / "WRLD3-03"
RTOL = 1e-12
RK_SAMPLE = 3   # compared conformance cases run with RK4 too: one in 3 (each costs a second compile)
AUTO_SAMPLE = 6  # and with RK4 Auto: one in 6, others than RK4's (get_data_args_3d_xls, whose steps it shortens)
# The tiers differ in how they do each operation of a kernel (the tape's opcode for it, the
# interpreter's mirror of the driver), not in how a model combines them: the cases compared
# are a set that uses every operation any passing case's kernel uses (`operations`), chosen
# greedily, most new operations first; test_the_compared_cases_use_every_operation says
# which case to add when a case brings a new one.
COMPARED = ("samples/Query_file", "tests/subscripted_trig", "tests/subscript_logicals", "tests/vector_order",
            "tests/subscripted_round", "tests/subscripted_delays", "tests/control_vars", "tests/power",
            "tests/except", "tests/subscripted_xidz", "tests/log", "tests/sqrt", "tests/allocate_available",
            "tests/allocate_by_priority", "tests/invert_matrix", "tests/get_data_args_3d_xls",
            "tests/vector_select", "tests/get_time_value", "tests/subscripted_lookups")
# case -> why its two tiers are not bit-identical (they must still agree to RTOL)
NOT_BIT_IDENTICAL: dict[str, str] = {}


def need(path):
    if not path.exists():
        pytest.skip(f"{path} not found (clone with ../shared beside the project)")
    return path


def assert_agree(name, got, want):
    assert got.shape == want.shape, name
    if np.array_equal(got, want, equal_nan=True):
        return
    assert name in NOT_BIT_IDENTICAL, f"{name}: the tiers differ (not listed in NOT_BIT_IDENTICAL)"
    both = np.isfinite(got) & np.isfinite(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)), name
    np.testing.assert_allclose(got[both], want[both], rtol=RTOL, atol=0, err_msg=name)


def cases():
    if not (SHARED / "test-models").is_dir():
        return []
    paths = {name: mdl for name, mdl, _ in find_cases()}
    return [(name, paths[name]) for name in ratchet()]


def operations(model) -> set[str]:
    """What a model's kernel does, as each tier does it: the functions its generated code
    calls (the kernel library's helpers, the state vector's intrinsics, the driver's parts),
    its operators and statements, its driver (the integration method, controls that vary
    during the run, buffers), and the opcodes of its tape."""
    out = {f"method {model.integration_method()}", f"varying controls {model.kernel.dynamic_control}",
           f"buffers {bool(model.kernel.buffers)}"}
    out.update(f"opcode {op}" for op in tape_opcodes(model))
    for node in ast.walk(ast.parse(model.kernel.source)):
        if isinstance(node, ast.Call):
            out.add("call " + ast.unparse(node.func))
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp)):
            out.add("operator " + type(node.op).__name__)
        elif isinstance(node, ast.Compare):
            out.update("comparison " + type(op).__name__ for op in node.ops)
        elif isinstance(node, (ast.For, ast.While, ast.If, ast.IfExp)):
            out.add("statement " + type(node).__name__)
    return out


def tape_opcodes(model) -> set[str]:
    """The opcodes of the model's tape (backend/tape.py: an opcode, its destination, then its
    operands, as many as OPS gives it), phase by phase: how the interpreter lays it out."""
    tape = model._tiers.tape()
    if tape is None:
        return set()
    code, phases, names = tape[0], tape[1], list(OPS)
    out = set()
    for start, stop in zip(phases[:-1], phases[1:]):
        i = int(start)
        while i < stop:
            name = names[int(code[i])]
            out.add(name)
            if name == "LOOP":        # LOOP, 0, n, body length, moving words, their pairs; the body
                i += 5 + 2 * int(code[i + 4])
            elif name == "VLOOP":     # VLOOP, 0, n, body length, the steps, the body's instructions
                length = int(code[i + 3])
                j, i = i + 4 + length, i + 4 + 2 * length
                while j < i:
                    out.add(names[int(code[j])])
                    j += 2 + len(OPS[names[int(code[j])]])
            else:
                i += 2 + len(OPS[name])
    return out


def compared():
    every = os.environ.get("SMARTSPEC_EVERY_CASE") == "1"
    return [c for c in cases() if every or c[0] in COMPARED]


def test_the_compared_cases_use_every_operation():
    """The cases compared on both tiers use every operation that any passing case's kernel
    uses (on the interpreter tier: each model's kernel is built, not compiled)."""
    every = cases()
    if not every:
        pytest.skip(f"{SHARED / 'test-models'} not found (clone with ../shared beside the project)")
    assert set(COMPARED) <= {name for name, _ in every}, "a compared case no longer passes: choose again"
    ops = {name: operations(load(mdl, tier="interpreter")) for name, mdl in every}
    covered = set().union(*(ops[name] for name in COMPARED))
    missing = {name: sorted(o - covered) for name, o in ops.items() if o - covered}
    assert not missing, f"add these cases to COMPARED (their operations are compared nowhere else): {missing}"


@pytest.mark.parametrize("k,name,mdl", [(k, *c) for k, c in enumerate(compared())],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_conformance_case_agrees_on_both_tiers(k, name, mdl):
    """Each case with its own method; every RK_SAMPLE-th also with RK4 (a second compile), and
    every AUTO_SAMPLE-th from the second on with RK4 Auto."""
    model = load(mdl, tier="compiled")
    methods = [model.integration_method()] + (["rk4"] if k % RK_SAMPLE == 0 else []) \
        + (["rk4auto"] if k % AUTO_SAMPLE == 1 else [])
    for method in dict.fromkeys(methods):
        fast = model.run(method=method, tier="interpreter")
        assert fast.tier == "interpreter", f"{name}: {model.interpreter_unsupported}"
        ref = model.run(method=method, tier="compiled")
        assert ref.tier == "compiled"
        assert_agree(f"{name} ({method})", fast.values, ref.values)
        np.testing.assert_array_equal(fast.time, ref.time)


def test_world3_agrees_on_both_tiers_with_a_changes_file():
    mdl = need(WORLD3 / "wrld3-03.mdl")
    model = load(mdl, tier="compiled")
    for method in ("euler", "rk4"):
        assert_agree(f"World3 {method}", model.run(method=method, tier="interpreter").values,
                     model.run(method=method, tier="compiled").values)
    cin = WORLD3 / "W303S03.CIN"
    got = model.run(changes=cin, tier="interpreter")
    assert_agree("World3 W303S03", got.values, model.run(changes=cin, tier="compiled").values)
    assert not np.array_equal(got.values, model.run(tier="interpreter").values)  # the changes took effect


RANDOM_MODEL = """\
a = RANDOM NORMAL(-5, 5, 0, 1, 1) ~~|
b = RANDOM UNIFORM(0, 10, 2) + RANDOM 0 1() ~~|
c = RANDOM POISSON(0, 100, 4, 0, 1, 3) + RANDOM EXPONENTIAL(0, 50, 0, 2, 4) ~~|
d = RANDOM GAMMA(0, 50, 2, 0, 1, 5) + RANDOM TRIANGULAR(0, 10, 0, 2, 10, 6) ~~|
e = RANDOM BETA(0, 1, 2, 3, 0, 1, 7) + RANDOM WEIBULL(0, 20, 1.5, 0, 2, 8) ~~|
f = RANDOM BINOMIAL(0, 20, 0.3, 20, 0, 1, 9) + RANDOM NEGATIVE BINOMIAL(0, 50, 0.4, 3, 0, 1, 10) ~~|
g = RANDOM LOGNORMAL(0, 100, 2, 1, 11) ~~|
s = INTEG(a + b + c + d + e + f + g - s / 4, 0) ~~|
late = DELAY FIXED(s, 1.5, 0) + DELAY MATERIAL(b, 2, 1, 0) + DELAY INFORMATION(c, 1, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 0.5 ~~|
"""


def test_random_batches_agree_on_both_tiers(tmp_path):
    """Seeded batches of a model drawing from every random distribution, with buffer delays,
    in parallel, Euler and RK4: every run the same on both tiers."""
    path = tmp_path / "random.mdl"
    path.write_text(RANDOM_MODEL)
    model = load(path, tier="compiled")
    P = model.parameter_matrix(n=32, seeds=np.arange(32))
    for method in ("euler", "rk4"):
        fast = model.run_batch(P, method=method, tier="interpreter")
        ref = model.run_batch(P, method=method, tier="compiled")
        assert fast.tier == "interpreter" and ref.tier == "compiled"
        assert_agree(f"random model batch ({method})", fast.values, ref.values)
        assert np.ptp(fast.values[:, -1, :], axis=0).max() > 0   # the seeds gave different runs
        one = model.run(seed=5, method=method, tier="interpreter")
        assert_agree("random model seed 5", one.values, model.run(seed=5, method=method, tier="compiled").values)


def test_interpreter_is_compiled_once_for_every_model(monkeypatch):
    """One machine-code specialisation serves every model: models differ only in their tape
    (of the Numba-cached interpreter; the one compiled ahead of time has only one)."""
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: None)
    teacup = need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl")
    for mdl in (teacup, SHARED / "test-models" / "tests" / "delays" / "test_delays.mdl"):
        load(need(mdl), tier="interpreter").run()
    assert len(tier0.load().simulate.signatures) == 1


def test_a_statement_without_opcode_is_refused_with_its_text():
    """Anything the tape cannot express is refused (the runtime then runs the compiled kernel)."""
    model = load(need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl"), tier="interpreter")
    assert build_tape(model.kernel).code.size > 0
    odd = replace(model.kernel, source=model.kernel.source.replace("st(v, ", "st(v, 1 // ", 1))
    with pytest.raises(TapeUnsupported, match="no operation for"):
        build_tape(odd)


SMALL = """\
k = 0.5 ~~|
x = INTEG(-k * x + RAMP(1, 2, 6), 10) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 1 ~~|
"""


def test_auto_runs_on_the_interpreter_until_the_background_compile_is_ready(tmp_path, monkeypatch):
    """load() returns without compiling; a worker process compiles the kernel into the cache
    and later runs (and later loads) use it; the numbers do not change with the tier."""
    monkeypatch.setenv("SMARTSPEC_BACKGROUND_COMPILE", "1")
    # the interpreter's own build ahead of time (a minute of a core) is not what this tests
    monkeypatch.setattr(interpreter_aot, "start_build", lambda: False)
    # a build slot of its own: another test's build ahead of time would hold the install's
    monkeypatch.setattr(aot, "build_slot", lambda: tmp_path / "aot-build.lock")
    path = tmp_path / "small.mdl"
    path.write_text(SMALL)
    heard = []
    model = load(path, cache_dir=tmp_path / "cache", log=heard.append)
    assert "in the background" in heard[0] and all("smartspec's interpreter" in h for h in heard[1:]), heard
    first = model.run()
    assert first.tier == "interpreter"
    worker = model._tiers.worker
    assert worker is not None and worker.wait(timeout=600) == 0
    again = model.run()
    assert again.tier == "compiled"
    np.testing.assert_array_equal(first.values, again.values)
    assert load(path, cache_dir=tmp_path / "cache").run().tier == "compiled"


def test_a_load_says_when_the_first_run_compiles_the_interpreter(tmp_path, monkeypatch):
    """The interpreter is compiled once per installed version, at its first run (about a
    minute of CPU): a load whose runs will use it says so through its `log`, as it says a
    kernel is compiled; once it is in Numba's cache, nothing."""
    path = tmp_path / "small.mdl"
    path.write_text(SMALL)
    monkeypatch.setattr(interpreter_aot, "load", lambda: None)    # not built ahead of time
    # the interpreter in Numba's cache (compiled here if no test ran it before)
    load(path, cache_dir=tmp_path / "cache", tier="interpreter").run()
    assert tier0.compiled("simulate")
    heard = []
    load(path, cache_dir=tmp_path / "cache", log=heard.append, tier="interpreter")
    assert heard == []
    monkeypatch.setenv("SMARTSPEC_INTERPRETER_CACHE", str(tmp_path / "empty"))   # another version's folder
    assert not tier0.compiled("simulate")
    for tier in ("interpreter", "auto"):
        load(path, cache_dir=tmp_path / "cache", log=heard.append, tier=tier)
        assert heard == ["the first run compiles smartspec's interpreter to machine code (once per installed "
                         "version: about a minute of CPU)"], tier
        heard.clear()
    load(path, cache_dir=tmp_path / "cache", log=heard.append, tier="compiled")
    assert not [h for h in heard if "interpreter" in h], heard


def test_auto_compiles_a_batch_only_when_it_pays(tmp_path):
    path = tmp_path / "small.mdl"
    path.write_text(SMALL)
    model = load(path, cache_dir=tmp_path / "cache")
    assert model.choose_tier("auto", runs=100, steps=40) == "interpreter"
    assert model.choose_tier("auto", runs=10 ** 7, steps=40) == "compiled"
    assert model.choose_tier("interpreter", runs=10 ** 7, steps=40) == "interpreter"
    with pytest.raises(Exception, match="unknown tier 'fast'"):
        model.run(tier="fast")
