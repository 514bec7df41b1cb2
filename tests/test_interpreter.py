"""The interpreter tier (backend/tape.py, backend/interpreter.py) gives the
specialised kernel's numbers: every conformance case that passes, World3 (with
Euler, RK4 and a changes file) and seeded batches of random models run on both
tiers and agree to 1e-12 relative; NOT_BIT_IDENTICAL lists every case that is
not bit for bit the same, with why (none today)."""
from __future__ import annotations

import ast

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.backend import tier0
from smartspec_dsl.backend.tape import TapeUnsupported, build_tape

from conftest import SHARED
from test_conformance import find_cases, ratchet

WORLD3 = SHARED / "real-models" / "WRLD3-03"
RTOL = 1e-12
# case -> why its two tiers are not bit-identical (they must still agree to RTOL)
NOT_BIT_IDENTICAL: dict[str, str] = {}


def need(path):
    if not path.exists():
        pytest.skip(f"{path} not found (clone with ../shared beside the project)")
    return path


def interpreted(model, method=None, seed=None, tables=None):
    """A run of `model` on the interpreter, as (saved values, time)."""
    return model.run(method=method, seed=seed, changes=tables, tier="interpreter")


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


@pytest.mark.parametrize("name,mdl", cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_conformance_case_agrees_on_both_tiers(name, mdl):
    model = load(mdl, tier="compiled")
    for method in dict.fromkeys([model.integration_method(), "rk4"]):
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


def test_random_batches_agree_on_both_tiers():
    """Seeded batches of a model with random draws, in parallel: every run the same."""
    mdl = need(SHARED / "test-models" / "tests" / "random_normal" / "test_random_normal.mdl")
    model = load(mdl, tier="compiled")
    P = model.parameter_matrix(n=64, seeds=np.arange(64))
    fast = model.run_batch(P, tier="interpreter")
    ref = model.run_batch(P, tier="compiled")
    assert fast.tier == "interpreter" and ref.tier == "compiled"
    assert_agree("random_normal batch", fast.values, ref.values)
    assert np.ptp(fast.values[:, -1, :], axis=0).max() > 0   # the seeds gave different runs


def test_interpreter_is_compiled_once_for_every_model():
    """One machine-code specialisation serves every model: models differ only in their tape."""
    teacup = need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl")
    for mdl in (teacup, SHARED / "test-models" / "tests" / "delays" / "test_delays.mdl"):
        load(need(mdl), tier="interpreter").run()
    assert len(tier0.load_default().simulate.signatures) == 1


def test_a_statement_without_opcode_is_refused_with_its_text():
    """Anything the tape cannot express is refused (the runtime then runs the compiled kernel)."""
    model = load(need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl"), tier="interpreter")
    tree = ast.parse(model.kernel.source)
    assert build_tape(model.kernel).code.size > 0
    from dataclasses import replace
    odd = replace(model.kernel, source=model.kernel.source.replace("st(v, ", "st(v, 1 // ", 1))
    assert odd.source != model.kernel.source and tree
    with pytest.raises(TapeUnsupported, match="no operation for"):
        build_tape(odd)
