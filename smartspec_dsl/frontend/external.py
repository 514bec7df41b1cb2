"""External data: Vensim's GET XLS / GET DIRECT functions and data variables.

Files are read when the model is compiled (paths relative to the model's
folder; a path leading out of it is refused) and their values are baked into
the IR: constants become number lists, lookups become lookup tables, data
become lookups of Time (interpolated, held backward or looked forward as the
left-hand side's keyword says). Nothing is read while the model runs.

Readers (workbook.py): .xlsx/.xlsm (openpyxl), .xls (xlrd), and delimited text (.csv, .tab,
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
import itertools
import math
import os
import re
from dataclasses import replace
from pathlib import Path

from .. import ir
from ..errors import ModelError
from ..files import read_in_folder, read_regular_file
from ..ir.normalize import resolve_lookup_calls
from ..ir.ranges import SubscriptSpace
from .mdl_settings import file_aliases
from .workbook import (CONSTANTS, DATA, GET_FUNCS, LOOKUPS, Book, DataOptions, Reader, alias_file, cell_name,
                       own_alias, to_float)

__all__ = ["DataOptions", "fingerprint", "folder_fingerprint", "reads_data_folder", "resolve_external"]


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


class _Failures:
    """The GET calls whose files could not be read, so that a model that ships without its
    data files is told every file it needs in one pass, not one a run: one line per
    distinct problem (a file not found, a sheet or cell missing), at its first call, with
    the modeller's variable and how many other calls meet the same problem."""

    def __init__(self):
        self.count = 0
        self._seen: dict[str, list] = {}     # problem -> [first place, variable, other calls]

    def note(self, err: ModelError, pos, variable: str) -> None:
        self.count += 1
        text = str(err)
        place, sep, what = text.partition(": ")
        if not sep or (pos is not None and place != str(pos)):
            place, what = "", text
        seen = self._seen.get(what)
        if seen is None:
            self._seen[what] = [place, variable, 0]
        else:
            seen[2] += 1

    def message(self) -> str:
        lines = []
        for what, (place, variable, more) in self._seen.items():
            also = f"; {more} other GET call{'s' if more > 1 else ''} too" if more else ""
            lines.append(f"{place + ': ' if place else ''}{what} (in the equation of '{variable}'{also})")
        return "\n".join(lines)


def model_folder(model_path: str | Path) -> Path:
    """The folder a model's data files are named relative to: that of the model file
    itself, a symbolic link to it followed (a model linked into another folder reads the
    data beside it, as it does where it is)."""
    return Path(os.path.realpath(model_path)).parent


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
            book = Book(path, data)
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
    delimited files next to the model. A data variable two files give is ambiguous
    (`table`): a stray file, or a run's own output written beside the model, must never
    decide its values in silence; so is one two columns (rows) of one file give. Names are
    compared as Vensim compares them (`_series_key`)."""

    def __init__(self, base: Path, files: tuple[Path, ...] = ()):
        self.base = base
        self.files = files
        self.series: dict[str, ir.LookupTable] | None = None
        self.origin: dict[str, list[str]] = {}    # series key -> the files that give it
        self.named: dict[str, list[tuple[str, str, str]]] = {}  # key -> [(file, location, name)]
        self.asked: set[str] = set()              # the keys the model's data variables read
        self.notices: list[str] = []   # series read in time order (ir.Model.notices)

    def table(self, key: str, pos) -> ir.LookupTable | None:
        """The values of the data variable (element) `key`, None when no file gives them;
        a ModelError naming the files when more than one does, or naming the two columns
        (rows) when one file gives it twice."""
        series = self.load(pos)
        self.asked.add(key)
        where = self.origin.get(key, [])
        if len(where) > 1:
            raise ModelError(f"{pos}: data variable '{key}' is given by {len(where)} data files: "
                             f"{', '.join(where)}; keep one (a run's output written beside the model "
                             "holds its variables too: write it elsewhere), or name the file with --data")
        named = self.named.get(key, [])
        if len(named) > 1:
            (_, at1, name1), (_, at2, name2) = named[:2]
            raise ModelError(f"{at2}: '{name2.strip()}' names the same variable as '{name1.strip()}' at {at1} "
                             "(Vensim's names ignore case, quotes and the difference between spaces and "
                             "underscores): give each variable once in a data file")
        return series.get(key)

    def unused(self) -> list[str]:
        """A warning per data file some of whose series no data variable of the model reads
        (a misspelt name, whose values would be lost in silence), each series named with its
        file:line (cell), the first four shown (another model's whole output read as data
        names many): for the files the run names and for the files next to the model that
        give some data variable its values."""
        def label(f, at):   # 'line 9' / 'cell B1' of 'file:9' / 'file: cell B1'
            rest = at[len(f):].lstrip(":").strip()
            return f"line {rest}" if rest.isdigit() else rest

        used_files = {f for key in self.asked for f, _, _ in self.named.get(key, [])}
        by_file: dict[str, list[tuple[str, str]]] = {}
        for key, places in self.named.items():
            if key not in self.asked:
                for f, at, name in places:
                    if self.files or f in used_files:
                        by_file.setdefault(f, []).append((at, name.strip()))
        notices = []
        for f, unread in by_file.items():
            (at, name), more = unread[0], len(unread) - 4
            if len(unread) == 1:
                notices.append(f"{at}: the data file names '{name}', which is not a data variable (or an "
                               "element of one) of the model: its values are not used")
                continue
            shown = ", ".join(f"'{n}' ({label(f, a)})" for a, n in unread[:4]) + (f" and {more} more" if more > 0 else "")
            notices.append(f"{at}: the data file names {len(unread)} series that are not data variables (or "
                           f"elements of them) of the model, their values not used: {shown}")
        return notices

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
            for name, named_at, points in _file_series(Path(path), data):
                kept = [(t, y, at) for t, y, at in points if not math.isnan(t) and not math.isnan(y)]
                if not kept:
                    continue
                key, shown = _series_key(name), str(path) if self.files else Path(path).name
                if (str(path), named_at, name) not in self.named.setdefault(key, []):   # a file given twice
                    self.named[key].append((str(path), named_at, name))
                if shown not in self.origin.setdefault(key, []):
                    self.origin[key].append(shown)
                if key not in self.series:
                    # the rule of every lookup (ir.table_in_x_order): times read in order, said
                    table, notice = ir.table_in_x_order([(t, y) for t, y, _ in kept], str(path),
                                                        f"the data of '{name.strip()}'", [at for _, _, at in kept])
                    if notice:
                        self.notices.append(notice)
                    self.series[key] = table
        return self.series


def _file_series(path: Path, data: bytes) -> list[tuple[str, str, list[tuple[float, float, str]]]]:
    """The series of a data file, (name, where it is named, [(time, value, where)]): a .dat
    file in Vensim's text format (`dat_series`), else a table with a column per variable
    (names across the first row, which begins with Time) or a row per variable (times
    across the first row)."""
    if path.suffix.lower() == ".dat":
        return dat_series(data.decode("utf-8", errors="replace"), path)
    rows = data_file_rows(path, data)
    if not rows:
        return []
    if rows[0] and rows[0][0].strip().lower() == "time" and len(rows[0]) > 1 \
            and to_float(rows[0][1]) != to_float(rows[0][1]):
        return [(name, f"{path}: cell {cell_name(0, i + 1)}",
                 [(to_float(r[0]), to_float(r[i + 1]) if i + 1 < len(r) else math.nan,
                   f"cell {cell_name(k, 0)}") for k, r in enumerate(rows[1:], start=1)])
                for i, name in enumerate(rows[0][1:])]
    times = [to_float(x) for x in rows[0][1:]]
    return [(r[0], f"{path}: cell {cell_name(k, 0)}",
             [(t, to_float(x), f"cell {cell_name(0, c)}") for c, (t, x) in enumerate(zip(times, r[1:]), start=1)])
            for k, r in enumerate(rows[1:], start=1)]


# a .dat line that begins with a number is a point line: a Vensim name cannot begin with one
_POINT_LINE = re.compile(r"[+-]?\.?\d")


def dat_series(text: str, path) -> list[tuple[str, str, list[tuple[float, float, str]]]]:
    """Vensim's .dat text format (help, ".dat Format"): each series is its variable's name
    (subscripted as in the model, optionally followed by <time base> or by a comment after
    '/') on a line of its own, then a line per point, its time and its value separated by
    spaces or a tab (anything after them a comment). Returns (name as first written,
    "file:line" of that name, [(time, value, "line n")]) per series.

    A name given twice adds to its series, the names compared as Vensim compares them
    (case, quotes, runs of spaces and underscores ignored: `_series_key`), so
    `A Values[A1]` and `"a values"[a1]` are one series; a time given twice with two values
    is then an error naming both lines (`ir.table_in_x_order`). A line that begins with a
    number is a point line (a name cannot begin with one): one that is not a time and a
    value (`2`, a decimal comma `2 3,5`, a comma separator `4, 9`) is an error, located, as
    is a point before any name."""
    series: dict[str, tuple[str, str, list[tuple[float, float, str]]]] = {}
    current = None
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if _POINT_LINE.match(fields[0]):
            numbers = [to_float(f) for f in fields[:2]]
            if len(numbers) < 2 or any(math.isnan(x) for x in numbers):
                raise ModelError(f"{path}:{n}: '{line.strip()}' is not a data point: expected a time and a value, "
                                 "numbers written with a decimal point and separated by spaces or a tab "
                                 "(a line that begins with a number is a point: a name cannot)")
            if current is None:
                raise ModelError(f"{path}:{n}: a data point before the name of its variable (the .dat "
                                 "format names each series on a line of its own, then its points)")
            series[current][2].append((numbers[0], numbers[1], f"line {n}"))
            continue
        name = re.sub(r"<[^>]*>\s*$", "", line.split("/")[0]).strip()
        if name:
            current = _series_key(name)
            series.setdefault(current, (name, f"{path}:{n}", []))
    return list(series.values())


def _series_key(text: str) -> str:
    name, _, rest = text.strip().partition("[")
    if not rest:
        return ir.canonical_name(name)
    elements = [ir.canonical_name(e) for e in rest.rstrip("]").split(",")]
    return f"{ir.canonical_name(name)}[{','.join(elements)}]"


# how close Time must come to a :RAW: series' point to take its value, in TIME STEPs: an
# exact match up to the rounding of Time (INITIAL TIME + k TIME STEP)
RAW_MATCH = 1e-6


def _data_expr(table_name: str, keyword: str, pos, times_name: str = "", subscripts: tuple = ()) -> ir.Expr:
    """A data variable's value from its table (a hidden lookup of Time), as its keyword
    says; :RAW: also reads `times_name`, the table of its points' times. `subscripts`: those
    of a lookup defined per element, read at the equation's element."""
    ref = ir.Ref(table_name, subscripts, pos)
    time = ir.Ref(ir.TIME, (), pos)
    if keyword == "RAW":
        # Vensim's help ("Keywords"): ":RAW: marks data as raw so :NA: is reported for missing
        # values": the value of a point at its time, :NA: between points and beyond the ends
        last_time = ir.Call("LOOKUP BACKWARD", (ir.Ref(times_name, subscripts, pos), time), pos)
        on_point = ir.BinOp("<=", ir.Call("ABS", (ir.BinOp("-", time, last_time),), pos),
                            ir.BinOp("*", ir.Num(RAW_MATCH), ir.Ref("time step", (), pos)))
        return ir.Call("IF THEN ELSE", (on_point, ir.Call("LOOKUP BACKWARD", (ref, time), pos),
                                        ir.Num(ir.NA_VALUE)), pos)
    if keyword == "HOLD BACKWARD":
        return ir.Call("LOOKUP BACKWARD", (ref, time), pos)
    if keyword == "LOOK FORWARD":
        return ir.Call("LOOKUP FORWARD", (ref, time), pos)
    return ir.LookupCall(table_name, time, pos, subscripts)


def resolve_external(model: ir.Model, data_dir: str | Path | None = None,
                     options: DataOptions | None = None) -> ir.Model:
    """Replace GET XLS/DIRECT calls and data variables by constants and lookups
    (`options`: data files and file aliases given to the run)."""
    options = options or DataOptions()
    if not _uses_external(model):
        return model

    model = _lift_nested(model)

    base = model_folder(model.source) if data_dir is None else Path(data_dir)
    reader = Reader(base, options, dict(model.file_aliases))
    datafiles = _DataFiles(base, tuple(options.data_files))
    space = SubscriptSpace(model.subscript_ranges, model.spellings)
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
                raise ModelError(f"{d.pos}: unknown subscript '{space.shown(s)}': not a subscript range or element")
        excluded = set()
        for ex in d.excepts:
            ex_opts = [space.elements[s] if space.is_range(s) else (s,) for s in ex]
            excluded.update(itertools.product(*ex_opts))
        combos = [c for c in itertools.product(*options) if c not in excluded]
        return combos, [len(o) for o in options]

    def table_var(owner: str, elements, table: ir.LookupTable, pos, what: str = "data") -> str:
        name = f"{owner}{'[' + ','.join(elements) + ']' if elements else ''} #{what}"
        # messages name the table as the modeller wrote the variable and its elements
        shown_elements = ','.join(space.display.get(e, e) for e in elements)
        shown = f"{model.variables[owner].display}{'[' + shown_elements + ']' if elements else ''} (its {what})"
        hidden[name] = ir.Variable(name, shown, ir.Kind.LOOKUP, lookup=table, pos=pos, hidden=True)
        return name

    missing: list[str] = []
    failed = _Failures()          # GET calls that could not be read, all reported at once
    sparse: list[str] = []        # data arrays some of whose elements have no data (:NA:)
    for name, var in model.variables.items():
        defs = var.definitions
        if not any(_get_call(d) is not None or _is_data_declaration(d) or d.operator == ":="
                   for d in defs):
            out[name] = var
            continue
        new_defs: list[ir.Definition] = []
        kinds = set()
        # every definition a data series: one lookup of all their elements' tables (below)
        series = all(_is_data_declaration(x) or (_get_call(x) is not None and _get_call(x).func not in CONSTANTS
                                                 and _get_call(x).func not in LOOKUPS) for x in defs)
        reported, failures = len(missing), failed.count
        for d in defs:
            call = _get_call(d)
            if call is None and not _is_data_declaration(d):
                if d.operator == ":=":  # a data equation: passes/data_equations.py gives its points
                    d = replace(d, operator="=", keyword=d.keyword or "INTERPOLATE",
                                expr=ir.data_equation(d.expr, d.keyword, d.pos) if d.expr is not None else None)
                new_defs.append(d)
                continue
            combos, sizes = combos_of(var, d)
            if call is not None:
                try:
                    got = reader.constants(call, sizes) if call.func in CONSTANTS else reader.series(call, len(combos))
                except ModelError as err:   # reported with every other call's, below
                    failed.note(err, call.pos, model.variables[name.split(" #")[0]].display)
                    continue
            if call is not None and call.func in CONSTANTS:
                values = got
                new_defs.append(replace(d, operator="=", expr=None, lookup=None,
                                        rows=(tuple(ir.Num(v) for v in values),)))
                kinds.add(ir.Kind.CONSTANT)
                continue
            if call is not None:
                tables = got
            else:
                tables = [datafiles.table(f"{name}[{','.join(combo)}]" if combo else name, d.pos)
                          for combo in combos]
                absent = [combo for combo, table in zip(combos, tables) if table is None]
                if len(absent) == len(combos):
                    missing.append(_no_data(var, d, absent, space))
                    continue
                if absent:
                    # "Data need not be available for all members of a Subscript Range" (help,
                    # ".dat Format"): Vensim's run has :NA: for those; said, never silent
                    sparse.append(_no_data(var, d, absent, space) + ": :NA: there, as in Vensim (data need "
                                  "not be available for every element)")
            if call is not None and call.func in LOOKUPS:
                kinds.add(ir.Kind.LOOKUP)
                lookup_names.add(name)
                for combo, table in zip(combos, tables):
                    new_defs.append(ir.Definition(combo, (), "=", None, (), table, d.pos))
            else:
                kinds.add(ir.Kind.AUXILIARY)
                if series and d.subscripts and all(t is not None for t in tables):
                    # one subscripted lookup of its elements' tables (and of their points' times,
                    # :RAW:), read at the element, for all its definitions (`x[c, A] := GET DATA
                    # ...`, `x[c, B] := ...`): the dense route keeps the array one loop over one
                    # row of tables (passes/dense_lookups.py), or one per definition (a piece,
                    # passes/dense_pieces.py), not a statement per element
                    def per_element(what, tabs):
                        tname = f"{name} #{what}"
                        made = hidden[tname].definitions if tname in hidden else ()
                        hidden[tname] = ir.Variable(tname, f"{var.display} (its {what})", ir.Kind.LOOKUP, pos=d.pos,
                                                    hidden=True, definitions=made + tuple(
                                                        ir.Definition(c, (), "=", None, (), t, d.pos)
                                                        for c, t in zip(combos, tabs)))
                        return tname
                    tname = per_element("data", tables)
                    # every definition's times when one is :RAW:, so that they cover the array too
                    times = per_element("data times", [ir.LookupTable(t.xs, t.xs) for t in tables]) \
                        if any(x.keyword == "RAW" for x in defs) else ""
                    times = times if d.keyword == "RAW" else ""
                    new_defs.append(replace(d, operator="=", keyword="", lookup=None,
                                            expr=_data_expr(tname, d.keyword, d.pos, times, d.subscripts)))
                    continue
                for combo, table in zip(combos, tables):
                    if table is None:         # an element without data (above): :NA:
                        new_defs.append(ir.Definition(combo, (), "=", ir.Num(ir.NA_VALUE), (), None, d.pos))
                        continue
                    tname = table_var(name, combo, table, d.pos)
                    times = table_var(name, combo, ir.LookupTable(table.xs, table.xs), d.pos, "data times") \
                        if d.keyword == "RAW" else ""
                    new_defs.append(ir.Definition(combo, (), "=", _data_expr(tname, d.keyword, d.pos, times),
                                                  (), None, d.pos))
        if len(missing) > reported or failed.count > failures:   # the error lists it with the others
            continue
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
    unused = datafiles.unused()
    if failed.count:
        raise ModelError(failed.message() + "".join("\n" + m for m in missing))
    if missing:
        # Vensim: "Variables that are not defined are assumed exogenous and must therefore be
        # entered as data for a simulation to proceed" (help, "Not defined messages")
        raise ModelError("\n".join(missing) + f"\n(no values in {datafiles.where()}; Vensim needs data for "
                         "a data variable to simulate: give its file with --data FILE)"
                         + "".join("\n" + u for u in unused))
    # every hidden lookup made here holds a data series' points (or their times): read held
    # beyond them, not watched (ir.Variable.series), whichever way it was laid out
    out.update({n: replace(v, series=True) for n, v in hidden.items()})
    if lookup_names:
        out = {n: resolve_lookup_calls(v, lookup_names) for n, v in out.items()}
    return replace(model, variables=out,
                   notices=model.notices + tuple(reader.notices + datafiles.notices + unused + sparse))


# ---- for the kernel cache -------------------------------------------------------------------

_GET_FILE = re.compile(r"GET[ _]+(?:XLS|DIRECT)[ _]+\w+\s*\(\s*'([^']*)'", re.I)


def _digest(items) -> str:
    """sha256 over (name, bytes) pairs; a file that cannot be read contributes its error
    (reported when the model is compiled)."""
    import hashlib
    h = hashlib.sha256()
    for name, read in items:
        h.update(name.encode("utf-8", "replace") + b"\0")
        try:
            h.update(read())
        except ModelError as err:
            h.update(str(err).encode("utf-8", "replace"))
    return h.hexdigest()


def fingerprint(model_path: str | Path, text: str, options: DataOptions | None = None) -> str:
    """A digest of the external files a model's text names (those its GET calls name,
    directly or by alias) and of the data files a run gives (`options.data_files`), for
    the kernel cache key: a changed data file must not reuse a kernel baked from the old
    values. Files are named as the model names them (a data file by its name), never by
    the path the model was loaded from. The data files next to the model, which only a
    model with data variables reads, are `folder_fingerprint`'s."""
    options = options or DataOptions()
    base = model_folder(model_path)
    own = file_aliases(text)
    items = []
    for name in sorted(set(_GET_FILE.findall(text))):
        name = own_alias(name, options, own)
        if name.startswith("?"):
            items.append((name, lambda name=name: read_regular_file(alias_file(name, options), "data file")))
        else:
            items.append((name, lambda name=name: read_in_folder(base, name, str(model_path))[1]))
    for path in options.data_files:
        items.append((Path(path).name, lambda path=path: read_regular_file(path, "data file")))
    return _digest(items)


def reads_data_folder(model: ir.Model, options: DataOptions | None = None) -> bool:
    """Whether `resolve_external` reads the data files next to the model (`data_file_names`):
    only for a data variable with no equation, when the run gives no data files."""
    if options is not None and options.data_files:
        return False
    return any(_is_data_declaration(d) for v in model.variables.values() for d in v.definitions)


def folder_fingerprint(model_path: str | Path) -> str:
    """A digest of the data files next to the model (`data_file_names`: names and contents)."""
    base = model_folder(model_path)
    return _digest((p.name, lambda p=p: read_in_folder(base, p.name, str(model_path))[1])
                   for p in data_file_names(base))


def _no_data(var: ir.Variable, d: ir.Definition, absent: list[tuple[str, ...]], space) -> str:
    """The error line of a data variable (`d`, one definition of `var`) whose elements
    `absent` have no values in the run's data files."""
    shown = ["[" + ",".join(space.display.get(e, e) for e in combo) + "]" for combo in absent if combo]
    more = f" and {len(shown) - 4} more" if len(shown) > 4 else ""
    elements = f" for {', '.join(shown[:4])}{more}" if shown else ""
    return f"{d.pos}: data variable '{var.display}' has no equation and no data{elements}"
