"""Reading external data files for the GET XLS / GET DIRECT functions: workbooks
(.xlsx/.xlsm with openpyxl, .xls with xlrd) and delimited text (.csv, .tab, .txt, .dat)
as sheets of cells, cells given as 'B2' or a named range ('*' transposed), the blocks a
GET call reads (`Reader`), `?name` file aliases (`DataOptions`) and GET ... SUBSCRIPT
ranges (`read_subscript`, called by the parser). external.py bakes the values into the IR.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ir
from ..errors import ModelError
from ..files import read_in_folder, read_regular_file

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

    data_files: the files data variables without an equation are read from (.csv, .tab, .dat,
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


def own_alias(name: str, options: DataOptions, own: dict[str, str]) -> str:
    """The file a `?name` stands for by the model's own settings (`own`: alias -> a file
    beside the model, as Vensim reads it), when the run does not name it (`options`);
    else `name` as it is."""
    key = name[1:].strip().lower() if name.startswith("?") else ""
    if key in own and not any(a.strip().lower() == key for a in options.aliases):
        return own[key]
    return name


def resolve_path(base: Path, name: str, pos=None) -> Path:
    """`name` relative to the model's folder, checked like every read (`files.read_in_folder`)."""
    return Path(read_in_folder(base, name, str(pos))[0])


def to_float(v) -> float:
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
        return to_float(self.raw(r, c))


class Book:
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


def cell_name(r: int, c: int) -> str:
    """A spreadsheet cell's name ('B5') from its 0-based row and column."""
    letters = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{r + 1}"


def _col_index(text: str) -> int:
    col = 0
    for ch in text.upper():
        col = col * 26 + ord(ch) - 64
    return col - 1


class Reader:
    def __init__(self, base: Path, options: DataOptions | None = None, own: dict[str, str] | None = None):
        self.base = base
        self.options = options or DataOptions()
        self.own = own or {}   # the model's own `?name` aliases (mdl_settings.file_aliases)
        self.books: dict[Path, Book] = {}
        self.notices: list[str] = []   # lookups read in x order (ir.Model.notices)

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

    def book(self, name: str, pos) -> Book:
        name = own_alias(name, self.options, self.own)
        alias = alias_file(name, self.options, pos)
        if alias is not None:   # a file the run names (--data-alias): the user's own path
            path, data = alias, read_regular_file(alias, f"file alias '{name}'", str(pos))
        else:
            path, data = read_in_folder(self.base, name, str(pos))
        path = Path(path)
        if path not in self.books:
            try:
                self.books[path] = Book(path, data)
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
                xcells = [(xr, c) for c in range(c0, sh.ncols)]
                ys = [[dsh.value(r0 + k, c) for c in range(c0, sh.ncols)] for k in range(n)]
            else:  # x values down a column, one column per element, to the end of the data
                xc = _col_index(xref_s)
                xs = [sh.value(r, xc) for r in range(r0, sh.nrows)]
                xcells = [(r, xc) for r in range(r0, sh.nrows)]
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
                xcells = [(xr0, c) for c in range(xc0, xc1 + 1)]
            else:
                xcells = [(r, xc0) for r in range(xr0, xr1 + 1)]
            xs = [xsh.value(r, c) for r, c in xcells]
            m = len(xs)
            dsh, r0, c0 = first_cell(cell_s)
            if along_row:
                ys = [[dsh.value(r0 + k, c0 + i) for i in range(m)] for k in range(n)]
            else:
                ys = [[dsh.value(r0 + i, c0 + k) for i in range(m)] for k in range(n)]
        tables = []
        for k, row in enumerate(ys):
            element = f" for element {k + 1}" if n > 1 else ""
            kept = [i for i, (x, y) in enumerate(zip(xs, row)) if not math.isnan(x) and not math.isnan(y)]
            if not kept:
                raise ModelError(f"{pos}: {call.func} {where}: no values found{element}")
            # the same rule as a lookup written in the model: read in x order, with a
            # warning naming the call and the cells; two points at one x are an error
            table, notice = ir.table_in_x_order([(xs[i], row[i]) for i in kept], str(pos),
                                                f"the lookup {call.func} reads {where}{element}",
                                                [f"cell {cell_name(*xcells[i])}" for i in kept])
            if notice:
                self.notices.append(notice)
            tables.append(table)
        return tables


# ---- GET ... SUBSCRIPT (called by the parser) -------------------------------------------

def read_subscript(call, filename: str, own: dict[str, str] | None = None
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A subscript range's elements read from a file: (canonical, as written); `own`: the
    model's own file aliases."""
    if not isinstance(call, ir.Call) or call.func not in SUBSCRIPT:
        return (), ()
    reader = Reader(Path(os.path.realpath(filename)).parent, own=own)   # as external.model_folder
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
