"""The last functions and keywords of Vensim's reference: Reality Check equations, and
functions each checked against values worked out by hand from Vensim's help page of
the function (each test says where the help leaves a behaviour open, what smartspec
chose and why). Runs use the interpreter tier: no kernel compile."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.parse import parse_model

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def run(tmp_path, text: str, name: str = "m.mdl", **kw):
    path = tmp_path / name
    path.write_text("{UTF-8}\n" + text + CONTROL)
    return smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter", **kw)


# ---- Reality Check equations ----------------------------------------------------------------

# Vensim's help, "Reality Check": its examples of test inputs and constraints, the
# consequence qualifiers :CROSSING: (after a comparison's operator, twice for a
# double crossing) and :AT LEAST ONCE:, subscripted checks as Vensim saves them
# (keywords glued to the name) and RC functions, which exist only inside them.
REALITY = """
Inventory = INTEG(production - shipments, 100) ~ Widget ~ |
production = 10 ~ Widget/Month ~ |
shipments = 8 ~ Widget/Month ~ |
demand = 8 ~ Widget/Month ~ |
S: s1, s2 ~~|
output[S] = 2, 3 ~~|
TI demand step up :TEST INPUT: demand = RC STEP(demand, 1.5) ~ Widget/Month ~ a step |
inventory overshoots :THE CONDITION: TI demand step up
\t:IMPLIES: Inventory > :CROSSING: :CROSSING: RC STEP CHECK(0, Inventory, 1) ~~|
fill orders when stocked :THE CONDITION: Inventory > 0
\t:IMPLIES: shipments >= demand :AT LEAST ONCE: ~~|
output up[S]:TEST INPUT:
\toutput[S] = RC STEP(output[S], 2) ~~|
no output no growth[S]:THE CONDITION: output[S]=0:IMPLIES:Inventory <= :AT LEAST ONCE: 100 ~~|
"""


def test_reality_checks_parse_and_run_without_being_evaluated(tmp_path):
    res = run(tmp_path, REALITY)
    # the model's own values: the checks change nothing (Vensim runs them only in its
    # Reality Check tool, never in a simulation)
    np.testing.assert_array_equal(res["Inventory"], [100, 102, 104, 106, 108])
    np.testing.assert_array_equal(res["demand"], [8] * 5)
    notes = [w.message for w in res.warnings]
    assert notes == [f"{tmp_path / 'm.mdl'}:9:1: 5 Reality Check equations (first 'TI demand step up') not "
                     "evaluated: Vensim tests them only in its Reality Check tool, never in a simulation run"]
    model = parse_model(REALITY + CONTROL, "m.mdl")
    assert "inventory overshoots" not in model.variables and "inventory" in model.variables


def test_a_reality_check_qualifier_outside_a_reality_check_is_refused_with_its_line():
    with pytest.raises(ModelError, match=r"^m.mdl:2:9: ':CROSSING:' qualifies a Reality Check consequence"):
        parse_model("a = 1 ~~|\nb = a > :CROSSING: 0 ~~|\n" + CONTROL, "m.mdl")
    with pytest.raises(ModelError, match=r"^m.mdl:1:13: ':AT LEAST ONCE:' qualifies"):
        parse_model("b = Time >= :at  least once: 0 ~~|\n" + CONTROL, "m.mdl")
