"""What the dense route still leaves per element is written without re-rolling the generated
text: the specialised Euler driver's stock updates are loops by construction, and a run that
replaces equations flattens only the arrays whose elements it replaces. Numbers from hand
derivations; both tiers."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl.backend import driver

from test_dense_route import CONTROL, _load


def decays(n: int) -> str:
    """n scalar stocks, s k decaying at rate 1/(k + 1), and a value held by SAMPLE IF TRUE (a
    discrete stock)."""
    stocks = "".join(f"s{k} = INTEG(-s{k} / {k + 1}, {k + 1}) ~~|\n" for k in range(n))
    return stocks + "held = SAMPLE IF TRUE(Time = 1, s0, 0) ~~|\n" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_the_euler_drivers_stock_updates(tmp_path, monkeypatch, tier):
    """More stocks than one chunk of statements holds: the rates live in the slots and the
    driver updates the stocks in one loop per kind. Euler's s_k(t) = (k + 1)(1 - dt / (k + 1))^(t / dt)."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(driver, "CHUNK", 4)
    model, run = _load(tmp_path, decays(12), "decay.mdl", tier)
    assert "for q in range(12):" in model.kernel.source
    steps = run.time / 0.25
    for k in (0, 5, 11):
        want = (k + 1) * (1 - 0.25 / (k + 1)) ** steps
        np.testing.assert_allclose(run.values[:, run.columns.index(f"s{k}")], want, rtol=1e-12)
    # held from the step at Time = 1 on: s0 there, 0.75^4
    held = run.values[:, run.columns.index("held")]
    np.testing.assert_allclose(held[run.time >= 1], 0.75 ** 4, rtol=1e-12)
