"""Vensim's RK4 Auto (method "rk4auto"), on both tiers: RK4 whose step is shortened until
every stock's error is within ABSOLUTE TOLERANCE or RELATIVE TOLERANCE * its base value (help,
"Special Variables": both 0.001 by default), output at the SAVEPER times as ever.

The help does not say how the error is estimated or the step shortened; smartspec chose
(backend/kernel_step.py) step doubling: each TIME STEP in n sub-steps of RK4 and in 2n
(n = 1, 2, 4, ...), a stock's error the difference of the two, its base value its value at the
step's start; the first n that agrees with 2n is kept, so a step the control does not shorten
is RK4 Fixed's; after 20 halvings a run stops with an error. Expected values by hand: one RK4
step of dx/dt = -k x over h multiplies x by R(-k h), R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24."""
from __future__ import annotations

import math

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ParameterError

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = {final} ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def R(z):
    return 1 + z + z * z / 2 + z ** 3 / 6 + z ** 4 / 24


def load(tmp_path, name, text, final=4):
    path = tmp_path / name
    path.write_text("{UTF-8}\n" + text + CONTROL.format(final=final))
    return smartspec_dsl.load(path, tier="interpreter")


@pytest.fixture(scope="module")
def decay(tmp_path_factory):
    model = load(tmp_path_factory.mktemp("rk4auto"), "decay.mdl", "x = INTEG(-k * x, 100) ~~|\nk = 2 ~~|\n")
    return model, {tier: model.run(method="rk4auto", tier=tier) for tier in ("interpreter", "compiled")}


def test_decay_by_hand(decay):
    """dx/dt = -2x from 100, TIME STEP 1. The first step: 1 sub-step gives 100 R(-2) = 33.33,
    2 give 100 R(-1)^2 = 14.06 (a difference of 19.3 > 0.001 and > 0.001 * 100), 4 give
    100 R(-1/2)^4 = 13.555 (0.51 from 2's), 8 give 13.5346 (0.0204 from 4's < 0.1): 4 sub-steps
    are kept. Each later step starts from the last; its differences scale with it, and stay
    within RELATIVE TOLERANCE (or, from t = 3, ABSOLUTE TOLERANCE) with 4 sub-steps and not
    with 2 (t = 3 to 4: 0.0013 > 0.001): x(t) = 100 R(-1/2)^(4t), 0.2% from the exact
    100 e^(-2t) at t = 1, where RK4 Fixed's 100 / 3 is 146% off."""
    model, runs = decay
    want = [100 * R(-0.5) ** (4 * t) for t in range(5)]
    for res in runs.values():
        np.testing.assert_allclose(res["x"], want, rtol=1e-13)
        np.testing.assert_allclose(res["x"], 100 * np.exp(-2 * np.arange(5)), rtol=0.01)
    fixed = model.run(method="rk4", tier="interpreter")["x"]
    np.testing.assert_allclose(fixed, [100 / 3 ** t for t in range(5)], rtol=1e-13)


def test_the_tiers_give_the_same_bits(decay):
    _, runs = decay
    np.testing.assert_array_equal(runs["interpreter"]["x"], runs["compiled"]["x"])


def test_a_step_the_control_does_not_shorten_is_rk4_fixeds(tmp_path):
    """dx/dt = -0.1x: 100 R(-0.1) and 100 R(-0.05)^2 differ by 7.7e-6 < 0.001: every step is one
    RK4 step, the same bits as RK4 Fixed."""
    model = load(tmp_path, "slow.mdl", "x = INTEG(-0.1 * x, 100) ~~|\n")
    auto, fixed = model.run(method="rk4auto", tier="interpreter"), model.run(method="rk4", tier="interpreter")
    np.testing.assert_array_equal(auto["x"], fixed["x"])
    np.testing.assert_allclose(auto["x"], [100 * R(-0.1) ** t for t in range(5)], rtol=1e-13)


def test_the_models_tolerances(tmp_path):
    """ABSOLUTE TOLERANCE and RELATIVE TOLERANCE 0.0001: the first step's 4 and 8 sub-steps
    differ by 0.0204 > 0.0001 * 100, 8 and 16 by 0.00102 < 0.01: 8 are kept, 100 R(-1/4)^8;
    the second step's (from 13.5346) 4 and 8 by 0.00276 > 0.00135, 8 and 16 by 0.000139:
    8 again, 100 R(-1/4)^16."""
    model = load(tmp_path, "tol.mdl", "x = INTEG(-2 * x, 100) ~~|\nABSOLUTE TOLERANCE = 0.0001 ~~|\n"
                                      "RELATIVE TOLERANCE = 0.0001 ~~|\n", final=2)
    res = model.run(method="rk4auto", tier="interpreter")
    np.testing.assert_allclose(res["x"], [100, 100 * R(-0.25) ** 8, 100 * R(-0.25) ** 16], rtol=1e-13)


def test_logistic_growth_against_its_solution(tmp_path):
    """dy/dt = 3 y (1 - y / 100) from 1: y = 100 / (1 + 99 e^(-3t)). With TIME STEP 1, RK4 Fixed
    settles at 76 (24% off); RK4 Auto stays within 0.1% of the solution."""
    model = load(tmp_path, "logistic.mdl", "y = INTEG(3 * y * (1 - y / 100), 1) ~~|\n")
    exact = 100 / (1 + 99 * np.exp(-3 * np.arange(5)))
    np.testing.assert_allclose(model.run(method="rk4auto", tier="interpreter")["y"], exact, rtol=1e-3)
    assert abs(model.run(method="rk4", tier="interpreter")["y"][-1] - exact[-1]) > 20


def test_a_step_no_sub_step_can_make_accurate_stops_the_run(tmp_path):
    """dx/dt = x^2 from 1 goes to infinity at t = 1 (x = 1 / (1 - t)): no sub-step makes the
    first step accurate. A single run stops with an error naming the step (Vensim's help,
    "TIME STEP": it will "issue an error if it is unable to do so"); a batch's runs, whose
    threads cannot stop it, are NaN from that step, which the batch counts."""
    model = load(tmp_path, "blowup.mdl", "x = INTEG(x * x, 1) ~~|\n", final=2)
    for tier in ("interpreter", "compiled"):
        with pytest.raises(ParameterError, match=r"RK4 Auto could not bring every stock's error within ABSOLUTE "
                                                 r"TOLERANCE or RELATIVE TOLERANCE in the TIME STEP from time 0, "
                                                 r"even in sub-steps of 9\.53674e-07 \(TIME STEP / 2\^20\)"):
            model.run(method="rk4auto", tier=tier)
    batch = model.run_batch(model.parameter_matrix(n=2), method="rk4auto", tier="interpreter")
    assert batch.values[:, 0, 0].tolist() == [1, 1] and np.isnan(batch.values[:, 1:, 0]).all()
    assert batch.warnings.tolist() == [1, 1]
    assert math.isfinite(model.run(method="rk4", tier="interpreter")["x"][1])
