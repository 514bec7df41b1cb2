"""External data: Vensim's GET XLS / GET DIRECT functions and data variables.

Files are read when the model is compiled (paths relative to the model's
folder; a path leading out of it is refused) and their values are baked into
the IR: constants become number lists, lookups become lookup tables, data
become lookups of Time (interpolated, held backward or looked forward as the
left-hand side's keyword says). Nothing is read while the model runs.

Readers: .xlsx/.xlsm (openpyxl), .xls (xlrd), and delimited text (.csv, .tab,
.txt; `GET DIRECT ...('file.csv', ',', ...)` gives the delimiter instead of a
sheet). Cells are given as 'B2' or by a named range; a trailing '*' reads the
values transposed (a one-dimensional range down a column instead of along a
row).

Data variables with no equation (`x :INTERPOLATE:`) are read from the
delimited data files next to the model (every .tab/.csv there except
output.*), a column (or row) per element named like Vensim's output
(`x[A,B]`) with a Time column (or row).
"""
from __future__ import annotations

import csv
import io
import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import ir
from ..errors import ModelError
from ..files import read_in_folder, read_regular_file
from ..ir.normalize import resolve_lookup_calls
from ..ir.ranges import SubscriptSpace

CONSTANTS = {"GET XLS CONSTANTS", "GET DIRECT CONSTANTS"}
LOOKUPS = {"GET XLS LOOKUPS", "GET DIRECT LOOKUPS"}
DATA = {"GET XLS DATA", "GET DIRECT DATA"}
SUBSCRIPT = {"GET XLS SUBSCRIPT", "GET DIRECT SUBSCRIPT"}
GET_FUNCS = CONSTANTS | LOOKUPS | DATA

TEXT_SUFFIXES = {".csv", ".tab", ".txt", ".dat"}


# ---- files ----------------------------------------------------------------------

@dataclass(frozen=True)
class DataOptions:
    """What a run says about external data (Vensim's `-d` data files and file aliases).

    data_files: the files data variables without an equation are read from (.csv, .tab,
        .xlsx); when empty, the .tab/.csv files next to the model.
    aliases: `?name` in a GET function's file argument -> the file it stands for."""
    data_files: tuple[Path, ...] = ()
    aliases: dict[str, Path] = field(default_factory=dict)


def alias_file(name: str, options: DataOptions, pos=None) -> Path | None:
    """The file a `?name` file argument stands for, or None for an ordinary file name."""
    if not name.startswith("?"):
        return None
    key = name[1:].strip().lower()
    for alias, path in options.aliases.items():
        if alias.strip().lower() == key:
            if not Path(path).is_file():
                raise ModelError(f"{pos}: file alias '?{name[1:]}' names '{path}', which is not a file")
            return Path(path)
    given = ", ".join(sorted(options.aliases)) or "none"
    raise ModelError(f"{pos}: the file is given as the alias '{name}': name its file with "
                     f"--data-alias {name[1:]}=FILE (aliases given: {given})")


def resolve_path(base: Path, name: str, pos=None) -> Path:
    """`name` relative to the model's folder, checked like every read (`files.read_in_folder`)."""
    return Path(read_in_folder(base, name, str(pos))[0])


def _to_float(v) -> float:
    if v is None or isinstance(v, bool):
        return math.nan if v is None else float(v)
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return math.nan


class _Sheet:
    """A grid of raw cell values, 0-based."""

    def __init__(self, rows: list[list]):
        self.rows = rows
        self.nrows = len(rows)
        self.ncols = max((len(r) for r in rows), default=0)

    def raw(self, r: int, c: int):
        if 0 <= r < self.nrows and 0 <= c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    def value(self, r: int, c: int) -> float:
        return _to_float(self.raw(r, c))


class _Book:
    def __init__(self, path: Path, data: bytes):
        self.path = path
        self.data = data
        self.sheets: dict[str, _Sheet] = {}
        self.names: dict[str, tuple[str, int, int, int, int]] = {}  # lower name -> sheet, r0, c0, r1, c1
        suffix = path.suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            self._load_xlsx()
        elif suffix == ".xls":
            self._load_xls()
        self.text_sheets: dict[str, _Sheet] = {}

    def _load_xlsx(self):
        try:
            import openpyxl
        except ImportError:  # pragma: no cover
            raise ModelError(f"reading '{self.path.name}' needs openpyxl "
                             "(pip install 'smartspec[data]')") from None
        wb = openpyxl.load_workbook(io.BytesIO(self.data), read_only=False, data_only=True)
        for ws in wb.worksheets:
            self.sheets[ws.title] = _Sheet([list(r) for r in ws.iter_rows(values_only=True)])

        def add(name, dests):
            for sheet, ref in dests:
                ref = ref.replace("$", "")
                a, _, b = ref.partition(":")
                r0, c0 = split_cell(a)
                r1, c1 = split_cell(b) if b else (r0, c0)
                self.names.setdefault(name.lower(), (sheet, r0, c0, r1, c1))
        try:
            for name, dn in wb.defined_names.items():
                add(name, dn.destinations)
            for ws in wb.worksheets:
                for name, dn in ws.defined_names.items():
                    add(name, dn.destinations)
        except AttributeError:  # openpyxl < 3.1
            for dn in wb.defined_names.definedName:
                add(dn.name, dn.destinations)

    def _load_xls(self):
        try:
            import xlrd
        except ImportError:  # pragma: no cover
            raise ModelError(f"reading '{self.path.name}' needs xlrd "
                             "(pip install 'smartspec[data]')") from None
        book = xlrd.open_workbook(file_contents=self.data)
        for sh in book.sheets():
            rows = []
            for r in range(sh.nrows):
                row = []
                for c in range(sh.ncols):
                    cell = sh.cell(r, c)
                    row.append(None if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK)
                               else cell.value)
                rows.append(row)
            self.sheets[sh.name] = _Sheet(rows)
        for nm in book.name_obj_list:
            try:
                sheet_i, r0, r1, c0, c1 = nm.area2d()
            except Exception:
                continue
            self.names.setdefault(nm.name.lower(),
                                  (book.sheet_by_index(sheet_i).name, r0, c0, r1 - 1, c1 - 1))

    def sheet(self, name: str, pos=None, what="") -> _Sheet:
        if self.path.suffix.lower() in TEXT_SUFFIXES:
            delim = name.replace("\\t", "\t")
            if delim not in self.text_sheets:
                text = self.data.decode("utf-8", errors="replace")
                if delim.lower() in ("tab", ""):
                    delim = "\t"
                rows = [[c if c.strip() != "" else None for c in row]
                        for row in csv.reader(text.splitlines(), delimiter=delim[0])]
                self.text_sheets[name] = _Sheet(rows)
            return self.text_sheets[name]
        if name in self.sheets:
            return self.sheets[name]
        low = {k.lower(): v for k, v in self.sheets.items()}
        if name.lower() in low:
            return low[name.lower()]
        raise ModelError(f"{pos}: sheet '{name}' not found in '{self.path.name}'"
                         f"{what} (sheets: {', '.join(self.sheets) or 'none'})")


def split_cell(text: str) -> tuple[int, int]:
    """'B3' -> (2, 1), 0-based row and column."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", text.strip())
    if not m:
        raise ValueError(text)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def cell_range(text: str, sheet: "_Sheet") -> tuple[int, int, int | None, int | None]:
    """0-based (first row, first column, last row, last column) of a cell reference: 'B2'
    alone (last row and column None: the caller knows the shape), 'B2:D5', or open-ended as
    people ship them: 'B2:B' down column B and 'B2:2' along row 2 to the last non-empty
    cell. Raises ValueError for anything else (a named range)."""
    first, sep, last = text.strip().replace("$", "").partition(":")
    r0, c0 = split_cell(first)
    if not sep:
        return r0, c0, None, None
    last = last.strip()
    if re.fullmatch(r"[A-Za-z]{1,3}", last):           # to the end of the column(s)
        c1 = _col_index(last)
        filled = [r for r in range(r0, sheet.nrows)
                  if any(sheet.raw(r, c) not in (None, "") for c in range(c0, c1 + 1))]
        return r0, c0, (filled[-1] if filled else r0), c1
    if re.fullmatch(r"\d+", last):                     # to the end of the row(s)
        r1 = int(last) - 1
        filled = [c for c in range(c0, sheet.ncols)
                  if any(sheet.raw(r, c) not in (None, "") for r in range(r0, r1 + 1))]
        return r0, c0, r1, (filled[-1] if filled else c0)
    r1, c1 = split_cell(last)
    return r0, c0, r1, c1


def _col_index(text: str) -> int:
    col = 0
    for ch in text.upper():
        col = col * 26 + ord(ch) - 64
    return col - 1


class _Reader:
    def __init__(self, base: Path, options: DataOptions | None = None):
        self.base = base
        self.options = options or DataOptions()
        self.books: dict[Path, _Book] = {}

    def args(self, call: ir.Call, n: int) -> list[str]:
        if len(call.args) != n:
            raise ModelError(f"{call.pos}: {call.func} takes {n} arguments, got {len(call.args)}")
        out = []
        for a in call.args:
            if not isinstance(a, ir.Str):
                raise ModelError(f"{call.pos}: {call.func}'s arguments must be quoted strings "
                                 "('file', 'sheet', 'cell')")
            out.append(a.value)
        return out

    def book(self, name: str, pos) -> _Book:
        alias = alias_file(name, self.options, pos)
        if alias is not None:   # a file the run names (--data-alias): the user's own path
            path, data = alias, read_regular_file(alias, f"file alias '{name}'", str(pos))
        else:
            path, data = read_in_folder(self.base, name, str(pos))
        path = Path(path)
        if path not in self.books:
            try:
                self.books[path] = _Book(path, data)
            except ModelError:
                raise
            except Exception as err:
                raise ModelError(f"{pos}: cannot read external file '{name}': {err}") from None
        return self.books[path]

    def block(self, file: str, sheet: str, cell: str, shape: tuple[int, int] | None, pos):
        """Values (list of rows) at a named range, or of `shape` from a first cell."""
        where = f" (file '{file}', sheet '{sheet}', range '{cell}')"
        book = self.book(file, pos)
        sh = book.sheet(sheet, pos, f" (range '{cell}')")
        ref = cell.strip()
        try:
            r0, c0, r1, c1 = cell_range(ref, sh)
            if r1 is None:
                shape = shape or (1, 1)
                r1, c1 = r0 + shape[0] - 1, c0 + shape[1] - 1
        except ValueError:
            named = book.names.get(ref.lower())
            if named is None:
                raise ModelError(f"{pos}: '{cell}' is neither a cell nor a named range{where}") from None
            nsheet, r0, c0, r1, c1 = named
            sh = book.sheet(nsheet, pos, f" (named range '{cell}')")
        if r0 >= sh.nrows or c0 >= sh.ncols:
            raise ModelError(f"{pos}: cell range is empty or outside the sheet{where}")
        return [[sh.value(r, c) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

    # -- CONSTANTS ------------------------------------------------------------------
    def constants(self, call: ir.Call, sizes: list[int]) -> list[float]:
        file, sheet, cell = self.args(call, 3)
        transpose = cell.strip().endswith("*")
        ref = cell.strip().rstrip("*")
        n = math.prod(sizes)
        sizes = [k for k in sizes if k > 1]  # single elements do not take a row or column
        if not sizes:
            shape = (1, 1)
        else:
            shape = (math.prod(sizes[:-1]), sizes[-1])
        read_shape = (shape[1], shape[0]) if transpose else shape
        data = self.block(file, sheet, ref, read_shape, call.pos)
        if transpose:
            data = [list(col) for col in zip(*data)]
        flat = [x for row in data for x in row]
        where = f"(file '{file}', sheet '{sheet}', range '{cell}')"
        if len(flat) != n:
            raise ModelError(f"{call.pos}: {call.func} {where} gives {len(flat)} values, "
                             f"the left-hand side needs {n}")
        if any(math.isnan(x) for x in flat):
            raise ModelError(f"{call.pos}: {call.func} {where}: a cell is empty or not a number")
        return flat

    # -- LOOKUPS and DATA -------------------------------------------------------------
    def series(self, call: ir.Call, n: int) -> list[ir.LookupTable]:
        file, sheet, xref, cell = self.args(call, 4)
        pos = call.pos
        where = f"(file '{file}', sheet '{sheet}', x values '{xref}', range '{cell}')"
        book = self.book(file, pos)
        sh = book.sheet(sheet, pos, f" (range '{cell}')")
        xref_s, cell_s = xref.strip(), cell.strip().rstrip("*")

        def first_cell(ref: str):
            """(sheet, row, column) where the data start: a named range or a cell ('B2',
            'B2:B', 'B2:D9')."""
            named = book.names.get(ref.lower())
            if named is not None:
                return book.sheet(named[0], pos), named[1], named[2]
            try:
                r, c, _, _ = cell_range(ref, sh)
            except ValueError:
                raise ModelError(f"{pos}: '{cell}' is neither a cell nor a named range {where}") from None
            return sh, r, c

        if re.fullmatch(r"\d+", xref_s) or re.fullmatch(r"[A-Za-z]{1,3}", xref_s):
            dsh, r0, c0 = first_cell(cell_s)
            if xref_s.isdigit():  # x values along a row, one row per element, to the end of the data
                xr = int(xref_s) - 1
                xs = [sh.value(xr, c) for c in range(c0, sh.ncols)]
                ys = [[dsh.value(r0 + k, c) for c in range(c0, sh.ncols)] for k in range(n)]
            else:  # x values down a column, one column per element, to the end of the data
                xc = _col_index(xref_s)
                xs = [sh.value(r, xc) for r in range(r0, sh.nrows)]
                ys = [[dsh.value(r, c0 + k) for r in range(r0, sh.nrows)] for k in range(n)]
        else:
            named = book.names.get(xref_s.lower())
            if named is not None:
                xsheet, xr0, xc0, xr1, xc1 = named
                xsh = book.sheet(xsheet, pos)
            else:
                try:   # a cell range, maybe open-ended: 'A2:A', 'B1:1', 'A2:A40'
                    xr0, xc0, xr1, xc1 = cell_range(xref_s, sh) if ":" in xref_s else (None,) * 4
                except ValueError:
                    xr0 = None
                if xr0 is None:
                    raise ModelError(f"{pos}: '{xref}' is neither a row number, a column letter, "
                                     f"a cell range nor a named range {where}")
                xsh = sh
            along_row = xr0 == xr1 and xc1 != xc0
            if along_row:
                xs = [xsh.value(xr0, c) for c in range(xc0, xc1 + 1)]
            else:
                xs = [xsh.value(r, xc0) for r in range(xr0, xr1 + 1)]
            m = len(xs)
            dsh, r0, c0 = first_cell(cell_s)
            if along_row:
                ys = [[dsh.value(r0 + k, c0 + i) for i in range(m)] for k in range(n)]
            else:
                ys = [[dsh.value(r0 + i, c0 + k) for i in range(m)] for k in range(n)]
        tables = []
        for k, row in enumerate(ys):
            pts = sorted((x, y) for x, y in zip(xs, row) if not math.isnan(x) and not math.isnan(y))
            if not pts:
                raise ModelError(f"{pos}: {call.func} {where}: no values found"
                                 + (f" for element {k + 1}" if n > 1 else ""))
            tables.append(ir.LookupTable(tuple(p[0] for p in pts), tuple(p[1] for p in pts)))
        return tables


# ---- GET ... SUBSCRIPT (called by the parser) -------------------------------------------

def read_subscript(call, filename: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A subscript range's elements read from a file: (canonical, as written)."""
    if not isinstance(call, ir.Call) or call.func not in SUBSCRIPT:
        return (), ()
    reader = _Reader(Path(filename).parent)
    if len(call.args) not in (4, 5):
        raise ModelError(f"{call.pos}: {call.func} takes 5 arguments, got {len(call.args)}")
    args = [a.value if isinstance(a, ir.Str) else "" for a in call.args]
    file, sheet, first, last = args[:4]
    prefix = args[4] if len(args) > 4 else ""
    where = f"(file '{file}', sheet '{sheet}', range '{first}:{last}')"
    book = reader.book(file, call.pos)
    sh = book.sheet(sheet, call.pos, f" (range '{first}')")
    try:
        r0, c0 = split_cell(first)
        if last.strip():
            r1, c1 = split_cell(last)
        else:
            r1, c1 = sh.nrows - 1, sh.ncols - 1
    except ValueError:
        raise ModelError(f"{call.pos}: {call.func} needs cell references {where}") from None
    raw = []
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            v = sh.raw(r, c)
            if v is None or str(v).strip() == "":
                continue
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            raw.append(prefix + str(v).strip())
    if not raw:
        raise ModelError(f"{call.pos}: {call.func} found no elements {where}")
    raw = list(dict.fromkeys(raw))
    return tuple(ir.canonical_name(x) for x in raw), tuple(raw)


# ---- the pass -----------------------------------------------------------------------------

def _get_call(d: ir.Definition):
    for e in (d.expr, d.lookup):
        if isinstance(e, ir.Call) and e.func in GET_FUNCS:
            return e
    return None


def _is_data_declaration(d: ir.Definition) -> bool:
    return d.expr is None and not d.rows and d.lookup is None


def _uses_external(model: ir.Model) -> bool:
    for v in model.variables.values():
        for d in v.definitions:
            if _get_call(d) is not None or _is_data_declaration(d) or d.operator == ":=":
                return True
            if d.expr is not None and any(isinstance(n, ir.Call) and n.func in GET_FUNCS
                                          for n in ir.walk(d.expr)):
                return True
    return False


def _lift_nested(model: ir.Model) -> ir.Model:
    """A GET ... CONSTANTS or GET ... DATA call inside an expression (`x = 2 * GET DIRECT
    CONSTANTS(...)`, a stock's initial value) becomes a hidden variable of its own, defined
    over the same subscripts, so that the rest of resolve_external meets only calls that
    are a whole equation."""
    out = dict(model.variables)
    for name, var in model.variables.items():
        lifted: dict = {}   # (subscripts, excepts, call) -> hidden variable's name

        def lift(e, d):
            def fn(node):
                if not (isinstance(node, ir.Call) and node.func in CONSTANTS | DATA):
                    return node
                key = (d.subscripts, d.excepts, node)
                if key not in lifted:
                    hidden = lifted[key] = f"{name} #get{len(lifted) + 1}"
                    out[hidden] = ir.Variable(
                        hidden, f"{var.display} ({node.func} at {node.pos.line}:{node.pos.column})"
                        if node.pos is not None else var.display, ir.Kind.AUXILIARY, expr=None if d.subscripts else node,
                        pos=node.pos, dims=d.subscripts, hidden=True,
                        definitions=(ir.Definition(d.subscripts, d.excepts, "=", node, (), None, node.pos),))
                return ir.Ref(lifted[key], tuple(s.rstrip("!") for s in d.subscripts), node.pos)
            return None if e is None else ir.map_expr(e, fn)

        if not any(d.expr is not None and _get_call(d) is None for d in var.definitions):
            continue
        defs = tuple(d if _get_call(d) is not None else replace(d, expr=lift(d.expr, d))
                     for d in var.definitions)
        if lifted:
            scalar = var.definitions[0]
            out[name] = replace(var, definitions=defs, expr=lift(var.expr, scalar),
                                initial=lift(var.initial, scalar))
    return replace(model, variables=out)


def data_file_names(base: Path) -> list[Path]:
    """The delimited data files next to a model that data variables are read from
    (every .tab/.csv but output.*), in name order; links are followed, and refused
    when read if they lead out of the folder."""
    try:
        return sorted(p for p in base.iterdir() if p.suffix.lower() in (".tab", ".csv")
                      and p.stem.lower() != "output" and p.is_file())
    except OSError:
        return []


def data_file_rows(path: Path, data: bytes) -> list[list[str]]:
    """A data file's cells as text: .tab (tabs), .csv (commas), .xlsx/.xls (first sheet);
    `data` is the file's bytes, read through `files`' checks."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            book = _Book(path, data)
        except ModelError:
            raise
        except Exception as err:
            raise ModelError(f"{path}: cannot read data file: {err}") from None
        if not book.sheets:
            return []
        sheet = next(iter(book.sheets.values()))
        return [["" if v is None else str(v) for v in row] for row in sheet.rows
                if any(v not in (None, "") for v in row)]
    text = data.decode("utf-8", errors="replace")
    delim = "\t" if suffix in (".tab", ".tsv") else ","
    return [r for r in csv.reader(text.splitlines(), delimiter=delim) if r]


class _DataFiles:
    """Data variables' values: from the files a run names (Vensim's `-d`), else from the
    delimited files next to the model."""


class _DataFiles:
    """Data variables' values: from the files a run names (Vensim's `-d`), else from the
    delimited files next to the model."""

    def __init__(self, base: Path, files: tuple[Path, ...] = ()):
        self.base = base
        self.files = files
        self.series: dict[str, ir.LookupTable] | None = None

    def where(self) -> str:
        return ", ".join(str(f) for f in self.files) if self.files else \
            f"the data files next to the model ({self.base})"

    def load(self, pos=None) -> dict[str, ir.LookupTable]:
        if self.series is not None:
            return self.series
        self.series = {}
        for path in (self.files or data_file_names(self.base)):
            if self.files:   # the run's own files (-d): the user's paths
                data = read_regular_file(path, "data file")
            else:            # the same check as every GET call: no link out of the folder
                _, data = read_in_folder(self.base, Path(path).name, str(pos or self.base), "data file")
            rows = data_file_rows(Path(path), data)
            if not rows:
                continue
            if rows[0] and rows[0][0].strip().lower() == "time" and len(rows[0]) > 1 \
                    and _to_float(rows[0][1]) != _to_float(rows[0][1]):
                # names across the first row, a row per time
                names = rows[0][1:]
                times = [_to_float(r[0]) for r in rows[1:]]
                cols = [[_to_float(r[i + 1]) if i + 1 < len(r) else math.nan for r in rows[1:]]
                        for i in range(len(names))]
            else:  # a row per variable, times across the first row
                names = [r[0] for r in rows[1:]]
                times = [_to_float(x) for x in rows[0][1:]]
                cols = [[_to_float(x) for x in r[1:]] for r in rows[1:]]
            for name, col in zip(names, cols):
                pts = [(t, y) for t, y in zip(times, col) if not math.isnan(t) and not math.isnan(y)]
                if pts:
                    self.series.setdefault(_series_key(name), ir.LookupTable(
                        tuple(p[0] for p in pts), tuple(p[1] for p in pts)))
        return self.series


def _series_key(text: str) -> str:
    name, _, rest = text.strip().partition("[")
    if not rest:
        return ir.canonical_name(name)
    elements = [ir.canonical_name(e) for e in rest.rstrip("]").split(",")]
    return f"{ir.canonical_name(name)}[{','.join(elements)}]"


def _data_expr(table_name: str, keyword: str, pos) -> ir.Expr:
    ref = ir.Ref(table_name, (), pos)
    time = ir.Ref(ir.TIME, (), pos)
    if keyword in ("HOLD BACKWARD", "RAW"):
        return ir.Call("LOOKUP BACKWARD", (ref, time), pos)
    if keyword == "LOOK FORWARD":
        return ir.Call("LOOKUP FORWARD", (ref, time), pos)
    return ir.LookupCall(table_name, time, pos)


def resolve_external(model: ir.Model, data_dir: str | Path | None = None,
                     options: DataOptions | None = None) -> ir.Model:
    """Replace GET XLS/DIRECT calls and data variables by constants and lookups
    (`options`: data files and file aliases given to the run)."""
    options = options or DataOptions()
    if not _uses_external(model):
        return model

    model = _lift_nested(model)

    base = Path(model.source).parent if data_dir is None else Path(data_dir)
    reader = _Reader(base, options)
    datafiles = _DataFiles(base, tuple(options.data_files))
    space = SubscriptSpace(model.subscript_ranges)
    out: dict[str, ir.Variable] = {}
    hidden: dict[str, ir.Variable] = {}
    lookup_names: set[str] = set()

    def combos_of(var: ir.Variable, d: ir.Definition):
        options = []
        for s in d.subscripts:
            s = s.rstrip("!")
            if space.is_range(s):
                options.append(space.elements[s])
            elif s in space.all_elements:
                options.append((s,))
            else:
                raise ModelError(f"{d.pos}: unknown subscript '{s}': not a subscript range or element")
        excluded = set()
        for ex in d.excepts:
            ex_opts = [space.elements[s] if space.is_range(s) else (s,) for s in ex]
            excluded.update(itertools.product(*ex_opts))
        combos = [c for c in itertools.product(*options) if c not in excluded]
        return combos, [len(o) for o in options]

    def table_var(owner: str, elements, table: ir.LookupTable, pos) -> str:
        name = f"{owner}{'[' + ','.join(elements) + ']' if elements else ''} #data"
        shown = f"{owner}{'[' + ','.join(elements) + ']' if elements else ''} (its data)"
        hidden[name] = ir.Variable(name, shown, ir.Kind.LOOKUP, lookup=table, pos=pos, hidden=True)
        return name

    for name, var in model.variables.items():
        defs = var.definitions
        if not any(_get_call(d) is not None or _is_data_declaration(d) or d.operator == ":="
                   for d in defs):
            out[name] = var
            continue
        new_defs: list[ir.Definition] = []
        kinds = set()
        for d in defs:
            call = _get_call(d)
            if call is None and not _is_data_declaration(d):
                if d.operator == ":=":  # a data equation that is an ordinary expression
                    d = replace(d, operator="=")
                new_defs.append(d)
                continue
            combos, sizes = combos_of(var, d)
            if call is not None and call.func in CONSTANTS:
                values = reader.constants(call, sizes)
                new_defs.append(replace(d, operator="=", expr=None, lookup=None,
                                        rows=(tuple(ir.Num(v) for v in values),)))
                kinds.add(ir.Kind.CONSTANT)
                continue
            if call is not None:
                tables = reader.series(call, len(combos))
            else:
                series = datafiles.load(d.pos)
                tables = []
                for combo in combos:
                    key = f"{name}[{','.join(combo)}]" if combo else name
                    if key not in series:
                        raise ModelError(f"{d.pos}: data variable '{key}' has no equation and no "
                                         f"values in {datafiles.where()}")
                    tables.append(series[key])
            if call is not None and call.func in LOOKUPS:
                kinds.add(ir.Kind.LOOKUP)
                lookup_names.add(name)
                for combo, table in zip(combos, tables):
                    new_defs.append(ir.Definition(combo, (), "=", None, (), table, d.pos))
            else:
                kinds.add(ir.Kind.AUXILIARY)
                for combo, table in zip(combos, tables):
                    tname = table_var(name, combo, table, d.pos)
                    new_defs.append(ir.Definition(combo, (), "=", _data_expr(tname, d.keyword, d.pos),
                                                  (), None, d.pos))
        subscripted = any(d.subscripts for d in defs)
        kind = ir.Kind.AUXILIARY
        if kinds == {ir.Kind.CONSTANT}:
            kind = ir.Kind.CONSTANT
        elif kinds == {ir.Kind.LOOKUP}:
            kind = ir.Kind.LOOKUP
        if subscripted:
            out[name] = replace(var, kind=kind, expr=None, initial=None, lookup=None,
                                definitions=tuple(new_defs))
        else:
            d = new_defs[0]
            expr = d.rows[0][0] if d.rows else d.expr
            out[name] = replace(var, kind=kind, expr=None if kind is ir.Kind.LOOKUP else expr,
                                lookup=d.lookup, definitions=tuple(new_defs))
    out.update(hidden)
    if lookup_names:
        out = {n: resolve_lookup_calls(v, lookup_names) for n, v in out.items()}
    return replace(model, variables=out)


# ---- for the kernel cache -------------------------------------------------------------------

_GET_FILE = re.compile(r"GET[ _]+(?:XLS|DIRECT)[ _]+\w+\s*\(\s*'([^']*)'", re.I)


def fingerprint(model_path: str | Path, text: str, options: DataOptions | None = None) -> str:
    """A digest of the external files a model may read (those its GET calls
    name, directly or by alias, and its data files), for a compiled-kernel cache key:
    a changed data file must not reuse a kernel baked from the old values."""
    import hashlib
    options = options or DataOptions()
    base = Path(model_path).parent
    h = hashlib.sha256()
    def add(name: str, read) -> None:
        h.update(name.encode("utf-8", "replace") + b"\0")
        try:
            h.update(read())
        except ModelError as err:   # reported when the model is compiled
            h.update(str(err).encode("utf-8", "replace"))

    for name in sorted(set(_GET_FILE.findall(text))):
        if name.startswith("?"):
            add(name, lambda: read_regular_file(alias_file(name, options), "data file"))
        else:
            add(name, lambda: read_in_folder(base, name, str(model_path))[1])
    for path in options.data_files:
        add(str(path), lambda: read_regular_file(path, "data file"))
    for path in ([] if options.data_files else data_file_names(base)):
        add(path.name, lambda: read_in_folder(base, path.name, str(model_path))[1])
    return h.hexdigest()
