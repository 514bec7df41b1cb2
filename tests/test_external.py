"""External data (GET XLS / GET DIRECT, data variables): read at compile time
from files next to the model, baked in as constants and lookup tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.errors import ModelError
from smartspec_dsl.passes.pipeline import lower
from smartspec_dsl.frontend.parse import parse_model

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""


def lowered(folder: Path, equations: str) -> ir.Model:
    path = folder / "model.mdl"
    path.write_text(equations + CONTROL)
    # per element (the dense route keeps arrays whole): these tests read the values of elements
    return lower(parse_model(path.read_text(), str(path)), dense=False)


def const(model: ir.Model, name: str) -> float:
    v = model.variables[name]
    assert v.kind is ir.Kind.CONSTANT, (name, v)
    return v.expr.value


@pytest.fixture
def csv_folder(tmp_path: Path) -> Path:
    # row 1: x (time) values; rows 2-3: two series; row 5: three constants
    (tmp_path / "inputs.csv").write_text(
        "t,0,2,4\n"
        "a,1,3,5\n"
        "b,10,,30\n"
        "\n"
        "c,7,8,9\n")
    return tmp_path


def test_csv_constants_lookups_and_data(csv_folder):
    m = lowered(csv_folder, """
dim: x, y, z ~~|
k[dim] = GET DIRECT CONSTANTS('inputs.csv', ',', 'B5') ~~|
s = GET DIRECT CONSTANTS('inputs.csv', ',', 'C2') ~~|
tbl = GET DIRECT LOOKUPS('inputs.csv', ',', '1', 'B2') ~~|
use = tbl(1) ~~|
d := GET DIRECT DATA('inputs.csv', ',', '1', 'B3') ~~|
hb :HOLD BACKWARD: := GET DIRECT DATA('inputs.csv', ',', '1', 'B2') ~~|
""")
    assert [const(m, f"k[{e}]") for e in "xyz"] == [7.0, 8.0, 9.0]
    assert const(m, "s") == 3.0
    t = m.variables["tbl"]
    assert t.kind is ir.Kind.LOOKUP and t.lookup == ir.LookupTable((0.0, 2.0, 4.0), (1.0, 3.0, 5.0))
    assert isinstance(m.variables["use"].expr, ir.LookupCall)
    # a missing value is left out of the series (interpolated across)
    tables = [v.lookup for v in m.variables.values() if v.hidden and v.kind is ir.Kind.LOOKUP]
    assert ir.LookupTable((0.0, 4.0), (10.0, 30.0)) in tables
    assert m.variables["hb"].expr.func == "LOOKUP BACKWARD"


def test_csv_column_constants(tmp_path):
    (tmp_path / "c.csv").write_text("1\n2\n3\n")
    m = lowered(tmp_path, "dim: x, y, z ~~|\nk[dim] = GET DIRECT CONSTANTS('c.csv', ',', 'A1*') ~~|\n")
    assert [const(m, f"k[{e}]") for e in "xyz"] == [1.0, 2.0, 3.0]


def test_xlsx_cells_and_named_ranges(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.workbook.defined_name import DefinedName
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["time", 0, 10])          # row 1
    ws.append(["v", 1.5, 2.5])          # row 2
    ws.append(["m", 1, 2])              # row 3
    ws.append(["m", 3, 4])              # row 4
    names = {"times1": "$B$1:$C$1", "vals1": "$B$2:$C$2", "mat_": "$B$3:$C$4"}
    for n, ref in names.items():
        dn = DefinedName(n, attr_text=f"Data!{ref}")
        try:
            wb.defined_names[n] = dn
        except TypeError:  # openpyxl < 3.1
            wb.defined_names.append(dn)
    wb.save(tmp_path / "in.xlsx")
    m = lowered(tmp_path, """
r: r1, r2 ~~|
c: c1, c2 ~~|
mat[r, c] = GET XLS CONSTANTS('in.xlsx', 'Data', 'mat_') ~~|
cell[c] = GET XLS CONSTANTS('in.xlsx', 'Data', 'B4') ~~|
lk = GET XLS LOOKUPS('in.xlsx', 'Data', 'times1', 'vals1') ~~|
dt := GET XLS DATA('in.xlsx', 'Data', '1', 'B2') ~~|
""")
    assert [const(m, f"mat[{a},{b}]") for a in ("r1", "r2") for b in ("c1", "c2")] == [1, 2, 3, 4]
    assert [const(m, f"cell[{b}]") for b in ("c1", "c2")] == [3.0, 4.0]
    assert m.variables["lk"].lookup == ir.LookupTable((0.0, 10.0), (1.5, 2.5))


def test_run_end_to_end(csv_folder, tmp_path_factory, monkeypatch):
    from smartspec_dsl.runtime import load
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    path = csv_folder / "run.mdl"
    path.write_text("d := GET DIRECT DATA('inputs.csv', ',', '1', 'B2') ~~|\n"
                    "k = GET DIRECT CONSTANTS('inputs.csv', ',', 'D5') ~~|\n"
                    "y = d * k ~~|\n" + CONTROL)
    res = load(path, cache_dir=tmp_path_factory.mktemp("cache2")).run()
    assert np.allclose(res["y"], [9 * x for x in (1, 2, 3, 4, 5)])


def test_get_calls_inside_expressions(csv_folder, tmp_path_factory):
    """A GET ... CONSTANTS / DATA call may sit inside an expression, a stock's initial value
    or one definition of a subscripted variable; its hidden variable is no output column."""
    from smartspec_dsl.runtime import load
    path = csv_folder / "nested.mdl"
    path.write_text("dim: x, y, z ~~|\n"
                    "k[dim] = 1 + GET DIRECT CONSTANTS('inputs.csv', ',', 'B5') ~~|\n"
                    "s[dim] = INTEG(1, 10 * GET DIRECT CONSTANTS('inputs.csv', ',', 'B5')) ~~|\n"
                    "p[x] = -GET DIRECT CONSTANTS('inputs.csv', ',', 'C2') ~~|\n"
                    "p[y] = 2 ~~| p[z] = 3 ~~|\n"
                    "q = INTEG(0, GET DIRECT CONSTANTS('inputs.csv', ',', 'D5') - 1) ~~|\n"
                    "y = 100 + GET DIRECT DATA('inputs.csv', ',', '1', 'B2') * "
                    "GET DIRECT CONSTANTS('inputs.csv', ',', 'D5') ~~|\n" + CONTROL)
    res = load(path, cache_dir=tmp_path_factory.mktemp("cache")).run()
    assert [res[f"k[{e}]"][0] for e in "xyz"] == [8, 9, 10]
    assert [res[f"s[{e}]"][-1] for e in "xyz"] == [74, 84, 94]
    assert [res[f"p[{e}]"][0] for e in "xyz"] == [-3, 2, 3]
    assert np.all(res["q"] == 8)
    assert np.allclose(res["y"], [100 + 9 * x for x in (1, 2, 3, 4, 5)])
    assert not [c for c in res.columns if "#" in c]
    with pytest.raises(ModelError, match=r"1:9: GET DIRECT LOOKUPS defines a lookup table, so it must be "
                                         r"the whole equation"):
        lowered(csv_folder, "w = 2 * GET DIRECT LOOKUPS('inputs.csv', ',', '1', 'B2') ~~|\n")


def test_path_outside_model_folder_is_refused(tmp_path):
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "secret.csv").write_text("1,2,3\n")
    with pytest.raises(ModelError, match="outside the model's folder"):
        lowered(inner, "k = GET DIRECT CONSTANTS('../secret.csv', ',', 'A1') ~~|\n")


def test_missing_file_sheet_and_range(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active.append([1, 2])
    wb.save(tmp_path / "in.xlsx")
    with pytest.raises(ModelError, match=r"sheet 'Nope' not found in 'in.xlsx'.*range 'A1'"):
        lowered(tmp_path, "k = GET XLS CONSTANTS('in.xlsx', 'Nope', 'A1') ~~|\n")
    with pytest.raises(ModelError, match=r"file 'in.xlsx', sheet 'Sheet1', range 'nosuchname'"):
        lowered(tmp_path, "k = GET XLS CONSTANTS('in.xlsx', 'Sheet1', 'nosuchname') ~~|\n")
    with pytest.raises(ModelError, match=r"file 'in.xlsx', sheet 'Sheet1', range 'A9'"):
        lowered(tmp_path, "k = GET XLS CONSTANTS('in.xlsx', 'Sheet1', 'A9') ~~|\n")
    with pytest.raises(ModelError, match=r"'nothere.xlsx' not found"):
        lowered(tmp_path, "k = GET XLS CONSTANTS('nothere.xlsx', 'Sheet1', 'A1') ~~|\n")


def test_data_variable_from_data_file(tmp_path):
    (tmp_path / "data.tab").write_text("Time\tx\tv[A]\tv[B]\n0\t1\t2\t3\n2\t5\t6\t7\n")
    m = lowered(tmp_path, "d: A, B ~~|\nx ~~|\nv[d] :LOOK FORWARD: ~~|\n")
    assert isinstance(m.variables["x"].expr, ir.LookupCall)
    assert m.variables["v[b]"].expr.func == "LOOKUP FORWARD"


def test_unsorted_data_lookups_follow_the_rule_of_every_lookup(tmp_path):
    """A lookup a GET call or a data file gives behaves as one written in the model
    (ir.table_in_x_order): Vensim reads a lookup's points in x order (its own output for
    the SDXorg case subscripted_lookups is the sorted table's), so a table whose x values
    are out of order is read sorted, with a warning naming the GET call's line:column and
    the cells; two points at one x are a located error. Vensim's help gives no other rule
    for the lookups and data it reads from files, so they are not treated otherwise.
    Here x = 4, 0, 2 with y = 5, 1, 3 in row 1 and 2 is the table (0,1),(2,3),(4,5)."""
    (tmp_path / "in.csv").write_text("t,4,0,2\na,5,1,3\n")
    m = lowered(tmp_path, "tbl = GET DIRECT LOOKUPS('in.csv', ',', '1', 'B2') ~~|\n"
                          "d := GET DIRECT DATA('in.csv', ',', '1', 'B2') ~~|\n")
    assert m.variables["tbl"].lookup == ir.LookupTable((0.0, 2.0, 4.0), (1.0, 3.0, 5.0))
    tables = [v.lookup for v in m.variables.values() if v.hidden and v.kind is ir.Kind.LOOKUP]
    assert tables == [ir.LookupTable((0.0, 2.0, 4.0), (1.0, 3.0, 5.0))]
    path = tmp_path / "model.mdl"
    assert len(m.notices) == 2
    for notice, (line, col, func) in zip(m.notices, [(1, 7, "LOOKUPS"), (2, 6, "DATA")]):
        assert notice.startswith(f"{path}:{line}:{col}: the x values of the lookup GET DIRECT {func} reads "
                                 "(file 'in.csv', sheet ',', x values '1', range 'B2') are not in "
                                 "increasing order (x = 4 is followed by x = 0 (cell B1 and cell C1))"), notice
    # two points at one x: an error naming the call and both cells
    (tmp_path / "in.csv").write_text("t,0,2,2\na,5,1,3\n")
    with pytest.raises(ModelError, match=r"model\.mdl:1:7: the lookup GET DIRECT LOOKUPS reads .* gives two "
                                         r"points at x = 2 with different y values \(1 and 3\) \(cell C1 and cell D1\)"):
        lowered(tmp_path, "tbl = GET DIRECT LOOKUPS('in.csv', ',', '1', 'B2') ~~|\n")


def test_unsorted_data_file_is_read_in_time_order_with_a_warning(tmp_path):
    (tmp_path / "data.tab").write_text("Time\tx\n2\t5\n0\t1\n")
    m = lowered(tmp_path, "x ~~|\n")
    tables = [v.lookup for v in m.variables.values() if v.hidden and v.kind is ir.Kind.LOOKUP]
    assert tables == [ir.LookupTable((0.0, 2.0), (1.0, 5.0))]
    assert m.notices == (f"{tmp_path / 'data.tab'}: the x values of the data of 'x' are not in increasing "
                         "order (x = 2 is followed by x = 0 (cell A2 and cell A3)): its points are read in "
                         "x order, as Vensim reads them",)
    (tmp_path / "data.tab").write_text("Time\tx\n0\t5\n0\t1\n")
    with pytest.raises(ModelError, match=r"data\.tab: the data of 'x' gives two points at x = 0 with different "
                                         r"y values \(5 and 1\) \(cell A2 and cell A3\)"):
        lowered(tmp_path, "x ~~|\n")


def test_every_data_variable_without_data_is_named_before_the_run(tmp_path):
    """Vensim's help ("Not defined messages"): a variable with no equation is a data variable,
    and its values "must therefore be entered as data for a simulation to proceed". smartspec
    refuses such a model before it runs, naming every data variable (and element) that has no
    data, each at its line, not only the first; with a data file that gives 'sales data' only
    the elements of 'cost' remain, and with both the model runs (y = 2 * 7 + 1 + 2 = 17)."""
    text = "sales data ~ widgets ~ from a data file |\nregion: north, south ~~|\ncost[region] ~~|\n" \
           "y = sales data * 2 + SUM(cost[region!]) ~~|\n"
    with pytest.raises(ModelError) as err:
        lowered(tmp_path, text)
    lines = str(err.value).splitlines()
    path = tmp_path / "model.mdl"
    assert lines[:2] == [f"{path}:1:1: data variable 'sales data' has no equation and no data",
                         f"{path}:3:1: data variable 'cost' has no equation and no data for [north], [south]"]
    assert lines[2].startswith("(no values in the data files next to the model")
    (tmp_path / "sales.tab").write_text("Time\tsales data\n0\t7\n")
    with pytest.raises(ModelError) as err:
        lowered(tmp_path, text)
    assert str(err.value).splitlines()[0] == f"{path}:3:1: data variable 'cost' has no equation and no data " \
                                             "for [north], [south]"
    (tmp_path / "cost.tab").write_text("Time\tcost[north]\tcost[south]\n0\t1\t2\n")
    import smartspec_dsl
    assert smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")["y"].tolist() == [17] * 5
