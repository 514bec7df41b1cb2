"""A run that replaces the equation of data (params, --set) that a function of the data's
series reads (TIME SHIFT, CUMULATE, GET DATA MAX...: Vensim's help, "Data Functions") is
refused, naming the run's value and the modeller's variable as written: the function reads
the data's own points, which a constant or a run's time series does not keep. It was
reported as an error of the model's equation ("TIME SHIFT works on a data variable ...,
which its first argument is not"). Data no such function reads are replaced as before."""
from __future__ import annotations

import pytest

import smartspec_dsl
from smartspec_dsl.errors import ParameterError
from smartspec_dsl.frontend.workbook import DataOptions

from conftest import run_cli

MODEL = """
Region: North, South ~~|
v[Region] ~~|
shifted := TIME SHIFT(v[South], 1) ~~|
sums[Region] := CUMULATE(v[Region]) ~~|
doubled := v[North] * 2 ~~|
doubled later := TIME SHIFT(doubled, 1) ~~|
top = GET DATA MAX(v[South], 0, 2) ~~|
twice = v[South] * 2 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


class Series:
    """A time series as params take one (pandas' shape, without pandas)."""

    def __init__(self, times, values):
        self.index, self._values = times, values

    def to_numpy(self):
        import numpy as np
        return np.asarray(self._values, float)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replaced")
    (folder / "m.mdl").write_text(MODEL)
    (folder / "points.csv").write_text("Time,v[North],v[South]\n0,1,10\n2,3,30\n")
    return folder


@pytest.fixture(scope="module")
def model(folder):
    return smartspec_dsl.load(folder / "m.mdl", tier="interpreter",
                              data=DataOptions(data_files=(folder / "points.csv",)))


@pytest.mark.parametrize("params, text, shown, read", [
    ({"v[South]": 5}, "v[South]", "v[South]", "TIME SHIFT reads at m.mdl:4:12:"),
    # an element read by CUMULATE of the whole range (sums[North])
    ({"v[North]": 5}, "v[North]", "v[North]", "CUMULATE reads at m.mdl:5:17:"),
    # the data's series read through a data equation's (doubled's points are v[North]'s)
    ({"v[North]": 5, "sums": 0}, "v[North]", "v[North]",
     "TIME SHIFT reads at m.mdl:7:18 (through the data equation of 'doubled'):"),
    ({"doubled": 4, "sums": 0}, "doubled", "doubled", "TIME SHIFT reads at m.mdl:7:18:"),
    # every element, by the array's name: the first element read named
    ({"v": 5}, "v", "v[South]", "TIME SHIFT reads at m.mdl:4:12:"),
    # a time series for the element (recognised by its shape: pandas' Series)
    ({"v[South]": Series([0.0, 2.0], [5.0, 6.0])}, "v[South]", "v[South]", "TIME SHIFT reads at m.mdl:4:12:"),
])
def test_replacing_data_that_a_data_function_reads_is_refused(model, folder, params, text, shown, read):
    with pytest.raises(ParameterError) as err:
        model.run(params=params, tier="interpreter")
    message = str(err.value).replace(str(folder / "m.mdl"), "m.mdl")
    assert message.startswith(f"'{text}' given to the run (params, --set): the run replaces the equation of "
                              f"the data variable '{shown}', whose series {read}")
    assert "give the data by a data file instead" in message


def test_data_no_data_function_reads_are_replaced(model):
    """twice = v[South] * 2 with v[South] = 5: 10 at every time (the file's 10, 20, 30 * 2
    without); the equations that read v[South]'s series (TIME SHIFT, GET DATA MAX, CUMULATE's
    South element) replaced too read it no more; CUMULATE's North element sums the file's North
    points (1, then 4 at 2, interpolated 2.5 at 1)."""
    assert model.run(tier="interpreter")["twice"].tolist() == [20, 40, 60]
    r = model.run(params={"v[South]": 5, "shifted": 0, "top": 3, "sums[South]": 0}, tier="interpreter")
    assert r["twice"].tolist() == [10, 10, 10] and r["top"].tolist() == [3, 3, 3]
    assert r["sums[North]"].tolist() == [1, 2.5, 4]       # CUMULATE of the file's North points


def test_the_command_line_says_so_without_a_traceback(folder):
    out = run_cli("run", str(folder / "m.mdl"), "--data", str(folder / "points.csv"),
                  "--set", "v[South]=5", "--tier", "interpreter")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "'v[South]' given to the run (params, --set)" in out.stderr and "TIME SHIFT reads at" in out.stderr
