"""A run's results as a file, in the format its extension names.

    .csv           comma-separated: `Time`, then every column; "-" writes CSV to stdout
    .tab / .tsv    tab-separated, as Vensim's tabbed output
    .parquet       the sweep store's long layout (see store.py) for one run:
                   run: int64, seed: uint64, param:NAME: float64 ..., time: float64,
                   OUTPUT: float64 ... (the `units` of each output in its field metadata)
    .nc            netCDF (xarray; PySD's format for large runs): a `time` coordinate, one
                   variable per model variable; a subscripted one spans its subscript
                   ranges as dimensions (element names as coordinates); `units` attributes

Values are written as the shortest decimal that reads back to the same double
(Python's repr: 0.99, not 0.98999999999999999), so a file read back gives the
run's numbers exactly. `output_format` is called before a run, so an unknown
extension or a missing optional dependency costs nothing."""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..files import replacing
from ..ir import canonical_name

# extension -> (format, the extra that provides it, the modules it needs)
FORMATS = {
    ".csv": ("csv", None, ()),
    ".tab": ("tab", None, ()),
    ".tsv": ("tab", None, ()),
    ".parquet": ("parquet", "sweep", ("pyarrow",)),
    ".nc": ("netcdf", "netcdf", ("xarray", "scipy")),
}
STDOUT = "-"


def output_format(path) -> str:
    """'csv', 'tab', 'parquet' or 'netcdf' for the output `path` (its extension, case
    ignored; "-" is CSV on stdout). SpecError for any other extension, and for a format
    whose optional dependency is not installed (naming the extra to install)."""
    if str(path) == STDOUT:
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise SpecError(f"{path}: cannot write a run as {shown}: the extension picks the format: "
                        ".csv, .tab (or .tsv), .parquet, .nc (netCDF), or - for CSV on stdout")
    fmt, extra, modules = FORMATS[suffix]
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            raise SpecError(f"{path}: writing {suffix} files needs {module}: "
                            f"pip install 'smartspec[{extra}]'") from None
    return fmt


def write_run(path, result, model=None, params: dict | None = None, seed: int | None = None) -> str:
    """Write one run (`runtime.Result`) to `path` atomically, in the format of
    `output_format(path)`; returns that format. `model` (a `runtime.Model`) gives units
    and subscript ranges (Parquet, netCDF); `params` the constants the run set
    (`param:NAME` columns of the Parquet file, names as the model spells them) and
    `seed` its seed (default 0)."""
    fmt = output_format(path)
    if fmt in ("csv", "tab"):
        sep = "\t" if fmt == "tab" else ","
        if str(path) == STDOUT:
            write_table(sys.stdout, result.time, result.columns, result.values, sep)
            sys.stdout.flush()
        else:
            with replacing(path, ".tmp") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
                write_table(fh, result.time, result.columns, result.values, sep)
    elif fmt == "parquet":
        _write_parquet(path, result, model, params or {}, seed or 0)
    else:
        _write_netcdf(path, result, model)
    return fmt


def write_table(fh, time, columns, values, sep: str = ",") -> None:
    """`Time` and `columns` as a header line, then one line per saved time, to the text
    file `fh`; every value as the shortest text that reads back to the same double (the
    repr of a float). Written a block of rows at a time: memory does not grow with the run."""
    csv.writer(fh, delimiter=sep, lineterminator="\n").writerow(["Time"] + list(columns))
    time = np.asarray(time, dtype=float)
    values = np.asarray(values, dtype=float).reshape(len(time), len(columns))
    for s in range(0, len(time), 4096):
        rows = np.column_stack([time[s:s + 4096], values[s:s + 4096]]).tolist()
        fh.writelines(sep.join(map(repr, row)) + "\n" for row in rows)


def _units(model) -> dict[str, str]:
    """canonical base name -> units, from the model as written."""
    if model is None:
        return {}
    return {canonical_name(v.name): v.units for v in model.variables if v.units}


def _base(column: str) -> tuple[str, tuple[str, ...]]:
    """'Population[East,Young]' -> ('Population', ('East', 'Young'))."""
    m = re.fullmatch(r"(.*?)\[([^\[\]]*)\]", column)
    if m is None:
        return column, ()
    return m.group(1), tuple(e.strip() for e in m.group(2).split(","))


def _write_parquet(path, result, model, params: dict, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    units = _units(model)
    n = len(result.time)
    fields, arrays = [pa.field("run", pa.int64()), pa.field("seed", pa.uint64())], \
        [pa.array(np.zeros(n, dtype=np.int64)), pa.array(np.full(n, seed, dtype=np.uint64))]
    for name, value in params.items():
        fields.append(pa.field("param:" + name, pa.float64()))
        arrays.append(pa.array(np.full(n, float(value))))
    fields.append(pa.field("time", pa.float64()))
    arrays.append(pa.array(np.asarray(result.time, dtype=np.float64)))
    for j, column in enumerate(result.columns):
        unit = units.get(canonical_name(_base(column)[0]))
        fields.append(pa.field(column, pa.float64(), metadata={"units": unit} if unit else None))
        arrays.append(pa.array(np.ascontiguousarray(result.values[:, j], dtype=np.float64)))
    names = [f.name for f in fields]
    clash = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if clash is not None:
        raise SpecError(f"{path}: the model has a variable named '{clash}', a column of the store's "
                        "schema (run, seed, param:NAME, time): write .csv, .tab or .nc instead")
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    with replacing(path, ".tmp") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _write_netcdf(path, result, model) -> None:
    import xarray as xr
    # what PySD's netCDF output says of each variable, under CF's attribute names
    info = {canonical_name(v.name): {"units": v.units, "comment": v.comment, "kind": v.kind}
            for v in model.variables} if model is not None else {}
    dims_of, range_axes = {}, {}
    if model is not None:
        ranges = model.ir.subscript_ranges
        dims_of = {name: tuple(ranges[d].written or d if d in ranges else d for d in v.dims)
                   for name, v in model.ir.variables.items()}
        # each range's elements as written, by the range's name as written
        range_axes = {r.written or n: list(r.display or r.elements) for n, r in ranges.items() if r.elements}
    groups: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for j, column in enumerate(result.columns):
        base, elements = _base(column)
        groups.setdefault(base, []).append((j, elements))
    data, coords = {}, {"time": np.asarray(result.time, dtype=np.float64)}
    for base, members in groups.items():
        attrs = {k: v for k, v in info.get(canonical_name(base), {}).items() if v}
        array = _as_array(base, members, result.values, dims_of.get(canonical_name(base), ()), coords,
                          range_axes)
        if array is None:    # elements that do not fill a box of ranges: one variable per column
            for j, _ in members:
                data[result.columns[j]] = xr.Variable(("time",), result.values[:, j], attrs)
        else:
            data[base] = xr.Variable(*array, attrs)
    clash = sorted(set(data) & set(coords))
    if clash:
        raise SpecError(f"{path}: netCDF cannot hold '{clash[0]}' as both a variable and a "
                        "dimension (a subscript range, or time); write .parquet or .csv instead")
    dataset = xr.Dataset(data, coords=coords)
    if model is not None:
        dataset.attrs.update(model_file=str(model.path), source=f"smartspec {_version()}")
    with replacing(path, ".tmp") as tmp:
        dataset.to_netcdf(tmp, engine="scipy")


def _version() -> str:
    from .. import __version__
    return __version__


def _as_array(base, members, values, dims, coords, range_axes):
    """(dims, values) of a variable whose columns are every combination of its ranges'
    elements, adding each range's coordinate to `coords`; None when that cannot be. Each
    dimension is named by the range whose elements it holds: the variable's own range, else
    (a variable defined piecewise over subranges spans their parent) the range with just
    those elements, else 'NAME dimK'."""
    if len(members) == 1 and not members[0][1]:
        return ("time",), values[:, members[0][0]]
    rank = len(members[0][1])
    if rank == 0 or any(len(e) != rank for _, e in members):
        return None
    axes = [list(dict.fromkeys(e[k] for _, e in members)) for k in range(rank)]
    own = tuple(dims) if len(dims) == rank else (None,) * rank
    dims = tuple(d if d is not None and range_axes.get(d) == axis else
                 next((r for r, elements in range_axes.items() if elements == axis), f"{base} dim{k}")
                 for k, (d, axis) in enumerate(zip(own, axes)))
    named: list[str] = []
    for d in dims:         # a range spanned twice (a matrix over one range): 'NAME', 'NAME 2'
        n, name = 2, d
        while name in named:
            name, n = f"{d} {n}", n + 1
        named.append(name)
    dims = tuple(named)
    if int(np.prod([len(a) for a in axes])) != len(members):
        return None
    for dim, axis in zip(dims, axes):
        if dim in coords and list(coords[dim]) != axis:
            return None
    position = [{e: i for i, e in enumerate(axis)} for axis in axes]
    out = np.full((values.shape[0],) + tuple(len(a) for a in axes), np.nan)
    for j, elements in members:
        out[(slice(None),) + tuple(p[e] for p, e in zip(position, elements))] = values[:, j]
    for dim, axis in zip(dims, axes):
        coords[dim] = axis
    return ("time",) + dims, out
