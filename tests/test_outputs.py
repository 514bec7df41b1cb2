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
        assert infected.attrs["units"] == "Person"
        assert np.array_equal(infected.sel(Region="West").values, res["Infected[West]"])
        assert np.array_equal(ds["Total Infected"].values, res["Total Infected"])
        assert np.array_equal(ds["time"].values, res.time)


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
