"""A run's output files: the format the extension names (CSV, tab, Parquet, netCDF),
values that read back to the same doubles, and permissions from the umask."""
import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.errors import SpecError
from smartspec_dsl.experiments import output
from smartspec_dsl.files import write_text

from conftest import cli

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def sir():
    model = load(DATA / "sir_regions.mdl")
    return model, model.run()


@pytest.mark.parametrize("name", ["out.xlsx", "out.txt", "out", "out.csv.gz", "out.png"])
def test_unknown_extension_is_refused(name):
    with pytest.raises(SpecError, match=r"\.csv, \.tab \(or \.tsv\), \.parquet, \.nc"):
        output.output_format(name)


@pytest.mark.parametrize("name, fmt", [("a.CSV", "csv"), ("a.tab", "tab"), ("a.tsv", "tab"),
                                       ("a.parquet", "parquet"), ("a.nc", "netcdf"), ("-", "csv")])
def test_known_extensions(name, fmt):
    assert output.output_format(name) == fmt


def test_missing_extra_names_it(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_xarray(name, *args, **kw):
        if name == "xarray":
            raise ImportError(name)
        return real(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_xarray)
    with pytest.raises(SpecError, match=r"needs xarray: pip install 'smartspec\[netcdf\]'"):
        output.output_format("run.nc")


def test_csv_values_are_shortest_round_trip(sir, tmp_path):
    model, res = sir
    path = tmp_path / "run.csv"
    output.write_run(path, res, model)
    text = path.read_text()
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["Time"] + res.columns
    # Contact Rate[East] is 0.99 in the model: written as the modeller wrote it
    j = res.columns.index("Contact Rate[East]") + 1
    assert rows[1][j] == "0.99"
    assert "0.98999999999999999" not in text
    back = np.array([[float(x) for x in row] for row in rows[1:]])
    assert np.array_equal(back[:, 0], res.time)
    assert np.array_equal(back[:, 1:], res.values)           # bit for bit
    for row in rows[1:]:                                      # and no longer than needed
        assert all(x == repr(float(x)) for x in row)


def test_tab_is_tab_separated(sir, tmp_path):
    model, res = sir
    path = tmp_path / "run.tab"
    output.write_run(path, res, model)
    header, first = path.read_text().splitlines()[:2]
    assert header.split("\t") == ["Time"] + res.columns
    assert [float(x) for x in first.split("\t")[1:]] == list(res.values[0])


def test_parquet_has_the_sweep_store_long_schema(sir, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    model, res = sir
    path = tmp_path / "run.parquet"
    output.write_run(path, res, model, params={"Duration": 5.0}, seed=3)
    table = pq.read_table(path)
    names = table.column_names
    assert names[:4] == ["run", "seed", "param:Duration", "time"]
    assert names[4:] == res.columns
    assert str(table.schema.field("run").type) == "int64"
    assert str(table.schema.field("seed").type) == "uint64"
    assert table.column("seed").to_pylist() == [3] * len(res.time)
    assert np.array_equal(table.column("time").to_numpy(), res.time)
    for j, c in enumerate(res.columns):
        assert np.array_equal(table.column(c).to_numpy(), res.values[:, j])
    assert table.schema.field("Infected[East]").metadata == {b"units": b"Person"}


def test_netcdf_spans_subscript_ranges(sir, tmp_path):
    xr = pytest.importorskip("xarray")
    model, res = sir
    path = tmp_path / "run.nc"
    output.write_run(path, res, model)
    with xr.open_dataset(path) as ds:
        infected = ds["Infected"]
        assert infected.dims == ("time", "Region")          # the range as the modeller spells it
        assert list(ds["Region"].values) == ["East", "West"]
        assert infected.attrs["units"] == "Person" and infected.attrs["kind"] == "stock"
        assert ds["Contact Rate"].attrs["comment"] == "Daily contacts per person."
        assert ds.attrs["model_file"].endswith("sir_regions.mdl")
        assert np.array_equal(infected.sel(Region="West").values, res["Infected[West]"])
        assert np.array_equal(ds["Total Infected"].values, res["Total Infected"])
        assert np.array_equal(ds["time"].values, res.time)


def test_netcdf_refuses_a_variable_named_as_a_range(tmp_path):
    pytest.importorskip("xarray")
    text = (DATA / "sir_regions.mdl").read_text().replace("Duration = 5", "Region = 5") \
        .replace("Infected[Region] / Duration", "Infected[Region] / Region")
    (tmp_path / "m.mdl").write_text(text)
    model = load(tmp_path / "m.mdl")
    with pytest.raises(SpecError, match="netCDF cannot hold 'Region' as both a variable and a dimension"):
        output.write_run(tmp_path / "run.nc", model.run(), model)
    assert not (tmp_path / "run.nc").exists()


def test_stdout(sir, capsys):
    model, res = sir
    output.write_run("-", res, model)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",")[0] == "Time" and len(lines) == len(res.time) + 1
    assert not Path("-").exists()


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_honour_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        write_text(tmp_path / "out.csv", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out.csv").st_mode) == mode


def test_replacing_keeps_the_files_mode(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


# ---- smartspec plot

@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_writes_the_format_of_its_extension(tmp_path, suffix, magic):
    pytest.importorskip("matplotlib")
    out = tmp_path / ("run" + suffix)
    assert cli(["plot", str(DATA / "sir_regions.mdl"), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["run.jpg", "run.csv", "run"])
def test_plot_refuses_other_extensions_before_loading(tmp_path, capsys, name):
    # the model does not exist: the extension is refused before anything is loaded
    assert cli(["plot", str(tmp_path / "missing.mdl"), "-o", str(tmp_path / name)]) == 2
    assert "the extension picks the format: .png, .svg or .pdf" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


def test_plot_default_is_stocks_by_units_with_labels(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from smartspec_dsl.experiments import plot
    seen = {}

    def capture(fig, path):
        seen["panels"] = [(ax.get_ylabel(), [l.get_label() for l in ax.get_lines()]) for ax in fig.axes]
        seen["xlabel"] = fig.axes[-1].get_xlabel()
        seen["title"] = fig._suptitle.get_text()
        plot.pyplot().close(fig)
    monkeypatch.setattr(plot, "save_figure", capture)
    assert cli(["plot", str(DATA / "sir_regions.mdl"), "-o", str(tmp_path / "run.png")]) == 0
    # the two subscripted stocks, both in Person: one panel, every element
    assert seen["panels"] == [("Person", ["Infected[East]", "Infected[West]",
                                          "Susceptible[East]", "Susceptible[West]"])]
    assert seen["xlabel"] == "Time (Day)" and seen["title"] == "sir_regions"
    assert cli(["plot", str(DATA / "sir_regions.mdl"), "-o", str(tmp_path / "run.png"),
                 "--var", "infection", "--var", "Total Infected", "--var", "Contact Rate[West]"]) == 0
    assert seen["panels"] == [("Person/Day", ["Infection[East]", "Infection[West]"]),
                              ("Person", ["Total Infected"]), ("1/Day", ["Contact Rate[West]"])]


def test_plot_unknown_variable_suggests(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli(["plot", str(DATA / "sir_regions.mdl"), "-o", str(tmp_path / "run.png"), "--var", "Infectd"]) == 2
    err = capsys.readouterr().err
    assert "'Infectd' is not a variable of" in err and "did you mean 'Infected'?" in err


# ---- smartspec run -o

def test_run_writes_the_format_of_its_extension(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    xr = pytest.importorskip("xarray")
    model = DATA / "sir_regions.mdl"
    assert cli(["run", str(model), "-o", str(tmp_path / "r.parquet"), "--set", "duration=4"]) == 0
    table = pq.read_table(tmp_path / "r.parquet")
    # the constant set, as the model spells it
    assert table.column_names[:4] == ["run", "seed", "param:Duration", "time"]
    assert table.column("Duration").to_pylist()[0] == 4.0
    assert cli(["run", str(model), "-o", str(tmp_path / "r.nc")]) == 0
    with xr.open_dataset(tmp_path / "r.nc") as ds:
        assert ds["Susceptible"].dims == ("time", "Region")
    assert cli(["run", str(model), "-o", str(tmp_path / "r.tab")]) == 0
    assert (tmp_path / "r.tab").read_text().split("\n")[0].split("\t")[:2] == ["Time", "Contact Rate[East]"]


@pytest.mark.parametrize("name", ["r.xlsx", "r.txt", "r.json", "r"])
def test_run_refuses_other_extensions_before_the_run(tmp_path, capsys, name):
    # the model does not exist: the extension is refused before anything is loaded
    assert cli(["run", str(tmp_path / "missing.mdl"), "-o", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert "the extension picks the format: .csv, .tab (or .tsv), .parquet, .nc (netCDF), or -" in err
    assert list(tmp_path.iterdir()) == []


def test_run_dash_is_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["run", str(DATA / "teacup.mdl"), "-o", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Time,") and "Teacup Temperature" in out[0].split(",")
    assert len(out) == 242 and out[1].startswith("0.0,")
    assert list(tmp_path.iterdir()) == []            # no file named "-"


def test_sweep_plots_label_units(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pyarrow")
    from smartspec_dsl.experiments import plot
    spec = tmp_path / "s.toml"
    spec.write_text('sampler = "lhs"\nruns = 20\nseed = 1\noutputs = ["teacup temperature"]\nchunk_size = 10\n'
                    '[parameters]\n"characteristic time" = { dist = "uniform", low = 5, high = 15 }\n')
    out = tmp_path / "sweep"
    assert cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(out), "--no-progress"]) == 0
    seen = {}

    def capture(fig, path):
        seen[Path(path).stem] = [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes if ax.axison]
        plot.pyplot().close(fig)
    monkeypatch.setattr(plot, "save_figure", capture)
    assert cli(["plot", str(out), "-o", str(tmp_path / "fan.svg")]) == 0
    assert cli(["plot", str(out), "-o", str(tmp_path / "sc.pdf"), "--kind", "scatter"]) == 0
    assert seen["fan"] == [("Time (Minute)", "Teacup Temperature (Degrees Fahrenheit)")]
    assert seen["sc"] == [("Characteristic Time (Minutes)", "Teacup Temperature (Degrees Fahrenheit) @ 30")]


def test_output_through_a_symbolic_link_writes_its_target(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"


def test_parquet_refuses_a_variable_named_as_a_store_column(tmp_path):
    pytest.importorskip("pyarrow")
    text = (DATA / "sir_regions.mdl").read_text().replace("Duration", "seed")
    (tmp_path / "m.mdl").write_text(text)
    model = load(tmp_path / "m.mdl")
    with pytest.raises(SpecError, match="the model has a variable named 'seed', a column of the store's schema"):
        output.write_run(tmp_path / "run.parquet", model.run(), model)
    assert not (tmp_path / "run.parquet").exists()


def test_plot_prints_the_runs_warnings(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    text = (DATA / "teacup.mdl").read_text().replace(
        "Characteristic Time=\n\t10", "Characteristic Time=\n\t0")
    (tmp_path / "m.mdl").write_text(text)
    assert cli(["plot", str(tmp_path / "m.mdl"), "-o", str(tmp_path / "p.png")]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "Heat Loss to Room" in err and "wrote" in err


PIECEWISE = """
Layers: Layer1, Layer2, Layer3 ~~|
Upper: Layer1, Layer2 ~~|
Lower: Layer3 ~~|
merged[Upper] = 1 ~~|
merged[Lower] = 2 ~~|
matrix[Layers, Layers] = 3 ~~|
part[Upper] = 4 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_netcdf_dimensions_of_piecewise_and_square_variables(tmp_path):
    xr = pytest.importorskip("xarray")
    (tmp_path / "m.mdl").write_text(PIECEWISE)
    model = load(tmp_path / "m.mdl")
    output.write_run(tmp_path / "run.nc", model.run(), model)
    with xr.open_dataset(tmp_path / "run.nc") as ds:
        # defined over two subranges, it spans their parent
        assert ds["merged"].dims == ("time", "Layers")
        assert ds["merged"].isel(time=0).values.tolist() == [1.0, 1.0, 2.0]
        assert ds["part"].dims == ("time", "Upper") and list(ds["Upper"].values) == ["Layer1", "Layer2"]
        # one range twice
        assert ds["matrix"].dims == ("time", "Layers", "Layers 2") and ds["matrix"].shape == (2, 3, 3)
