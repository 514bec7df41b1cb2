"""`smartspec convert MODEL -o OUT.mdl`: what the Vensim text says comes back the same when
read again: data variables (declared with no equation), data equations (`:=`, with their
:RAW: / :HOLD BACKWARD: keywords), GET calls' quoted arguments, `==`."""
from __future__ import annotations

import numpy as np

from smartspec_dsl import load
from smartspec_dsl.cli import main

MODEL = """d1 ~ widgets ~ read from d1.csv |
d2 ~~|
e := d1 + d2 ~~|
h :RAW: := d1 + d2 ~~|
k :HOLD BACKWARD: := d2 ~~|
g = GET DIRECT DATA('d1.csv', ',', 'A', 'B2') ~~|
rate == 2 ~~|
y = e * rate ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_data_variables_and_data_equations_round_trip_through_mdl(tmp_path, capsys):
    """By hand (Vensim's help, "Data Equations"): d1 has points at 0, 5, 10 (10, 20, 40), d2
    at 0, 2, ..., 10 (1..6); e := d1 + d2 is computed where both have a point (0 and 10: 11
    and 46) and interpolated between (e(1) = 14.5); h :RAW: is :NA: between them; k :HOLD
    BACKWARD: holds d2's point (k(3) = 2); g reads d1 through GET DIRECT DATA (g(1) = 12)."""
    (tmp_path / "d1.csv").write_text("Time,d1\n0,10\n5,20\n10,40\n")
    (tmp_path / "d2.csv").write_text("Time,d2\n0,1\n2,2\n4,3\n6,4\n8,5\n10,6\n")
    source = tmp_path / "de.mdl"
    source.write_text(MODEL)
    out = tmp_path / "out.mdl"
    assert main(["convert", str(source), "-o", str(out)]) == 0
    capsys.readouterr()
    text = out.read_text()
    for written in ("\nd1\n\t~\twidgets\n\t~\tread from d1.csv\n", "\ne := ", "\nh :RAW: := ",
                    "\nk :HOLD BACKWARD: := d2", "GET DIRECT DATA('d1.csv', ',', 'A', 'B2')", "\nrate == 2"):
        assert written in text, written
    runs = [load(path, tier="interpreter").run(tier="interpreter") for path in (source, out)]
    a, b = runs
    assert a.columns == b.columns
    np.testing.assert_array_equal(a.values, b.values)
    assert a["e"][[0, 1, 10]].tolist() == [11, 14.5, 46]
    assert a["y"][1] == 29 and a["k"][3] == 2 and a["g"][1] == 12
    assert a["h"][0] == 11 and a["h"][1] < -1e30    # :NA: between the common points


def test_rk4_is_written_in_the_settings_block(tmp_path, capsys):
    """A model that asks for RK4 (here a .mdl's own settings) comes back asking for it, in the
    settings block Vensim reads: by hand, dx/dt = -x from 1 with TIME STEP 1 gives 0.375
    after one RK4 step, 0.140625 after two, from the converted file too."""
    source = tmp_path / "rk.mdl"
    source.write_text("x = INTEG(-x, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\n"
                      "SAVEPER = 1 ~~|\n\\\\\\---/// Sketch information\nV300\n*View 1\n///---\\\\\\\n"
                      ":L\x7f<%^E!@\n15:0,0,0,1,0,0\n", encoding="utf-8")
    out = tmp_path / "back.mdl"
    assert main(["convert", str(source), "-o", str(out)]) == 0
    assert "\n15:0,0,0,5,0,0\n" in out.read_text(encoding="utf-8")
    assert load(out, tier="interpreter").run(tier="interpreter")["x"].tolist() == [1, 0.375, 0.140625]
