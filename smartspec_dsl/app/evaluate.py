"""Static evaluation of smart specialization: entropy weights, TOPSIS and coupling
coordination (section 5.1 of the smart-specialization paper, index system of its
Table 1).

Library API (numpy arrays, one row per alternative, one column per criterion):

    normalize(X, benefit)               min-max per column; cost columns reversed
    entropy_weights(X, benefit)         entropy weight method, weights sum to 1
    topsis(X, weights, benefit)         closeness d-/(d+ + d-) per row;
                                        return_distances=True gives a TopsisResult
                                        (closeness, d_plus, d_minus)
    coupling_coordination(u1, u2)       Coupling(C, T, D), elementwise;
                                        formula="paper" (default) or "standard"
    load_spec(path) -> IndexSpec        read and check a TOML index spec
    evaluate(data, spec) -> EvaluationResult
    evaluate_file(data_csv, spec_toml) -> EvaluationResult
    format_result(result) -> str        CSV text of the per-row results
    write_result(result, path)          same CSV, written atomically
    main(argv) -> int                   smartspec evaluate DATA.csv --spec INDEX.toml [-o OUT.csv]

Every mistake in the data or the spec raises smartspec_dsl.errors.SpecError whose
message names the file, the line or column and the offending value.

Data file (CSV, UTF-8)
----------------------
One row per region and year. Required columns ``region`` and ``year`` (an
integer), then one numeric column per tertiary indicator; extra columns are
ignored. Blank lines and lines whose first cell starts with ``#`` are comments.
A (region, year) pair may appear only once. All rows are evaluated together
(pooled panel): min-max bounds and entropy weights are taken over every row.

Index spec (TOML)
-----------------
The hierarchy is a tree of nested ``indicator`` tables under ``[index]``; a node
with a ``column`` is a leaf (a data column), any other node is a group::

    [index]
    name = "Manufacturing smart specialization level"   # optional label
    id = "s3"                                # optional, default "index"
    weights = "spec"                         # "spec" (default) or "entropy"
    coupling = ["smart", "specialization"]   # two node ids; default: the
                                             # root's children if exactly two
    coupling_formula = "paper"               # "paper" (default) or "standard"

    [[index.indicator]]                      # level 1: subsystem
    id = "smart"                             # required for groups
    name = "Smart level"                     # optional label
    weight = 0.5                             # optional, see below

    [[index.indicator.indicator]]            # level 2: secondary indicator
    id = "innovation_capacity"
    weight = 0.2912

    [[index.indicator.indicator.indicator]]  # level 3: tertiary = data column
    column = "rd_investment_intensity"       # CSV column; also the leaf's id
    direction = "benefit"                    # required: "benefit" or "cost"
    weight = 0.1085

Weights belong to the children of one group. With ``weights = "spec"`` a group
uses its children's ``weight`` values when every child has one (they are
rescaled to sum to 1, so a printed table whose weights do not quite add up still
gives scores in [0, 1]) and entropy weights when none has; a group where only
some children have a weight is an error. ``weights = "entropy"`` ignores every
written weight. A group with a single child gives it weight 1.

Scores, level by level, per row: a leaf scores its min-max normalized value
(cost columns reversed); a group scores the weighted sum of its children's
scores; entropy weights of a group are computed from its children's score
columns. The closeness is TOPSIS over all leaf columns, each weighted by the
product of the weights on its path from the root. The two coupled nodes' scores
u1, u2 give the coupling degree C, the comprehensive coordination index
T = 0.5 u1 + 0.5 u2 and the coordination degree D = sqrt(C T).

Output CSV columns: region, year, score_<id> for each child of the root,
closeness, d_plus, d_minus, coupling_C, coordination_T, coordination_D.
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError, SpecError
from ..files import read_toml, write_text
from .mcda import FORMULAS, Coupling, TopsisResult, coupling_coordination, entropy_weights, normalize, topsis

__all__ = [
    "Coupling", "DataTable", "EvaluationResult", "IndexSpec", "Node", "TopsisResult",
    "coupling_coordination", "entropy_weights", "evaluate", "evaluate_file",
    "format_result", "load_spec", "main", "normalize", "parse_spec", "read_data",
    "topsis", "write_result",
]

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED_COLUMNS = ("region", "year")


# --------------------------------------------------------------------------
# Index spec
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """One indicator of the hierarchy; a leaf when `column` is set."""
    id: str
    name: str
    weight: float | None
    children: tuple["Node", ...] = ()
    column: str | None = None
    benefit: bool = True

    @property
    def is_leaf(self) -> bool:
        return self.column is not None

    def leaves(self) -> list["Node"]:
        if self.is_leaf:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class IndexSpec:
    root: Node
    weights: str          # "spec" or "entropy"
    coupling: tuple[str, str]
    formula: str
    source: str = "<spec>"


_ROOT_KEYS = {"id", "name", "weights", "coupling", "coupling_formula", "indicator"}
_GROUP_KEYS = {"id", "name", "weight", "indicator"}
_LEAF_KEYS = {"column", "name", "weight", "direction"}


def load_spec(path) -> IndexSpec:
    return parse_spec(read_toml(path), str(path))


def parse_spec(data: dict, source: str = "<spec>") -> IndexSpec:
    """Check a decoded TOML document and build the IndexSpec."""
    unknown = set(data) - {"index"}
    if unknown:
        raise SpecError(f"{source}: unknown top-level key(s) {sorted(unknown)}; expected [index]")
    raw = data.get("index")
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: missing [index] table")
    _check_keys(raw, _ROOT_KEYS, source, "[index]")
    mode = raw.get("weights", "spec")
    if mode not in ("spec", "entropy"):
        raise SpecError(f"{source}: [index] weights must be \"spec\" or \"entropy\", got {mode!r}")
    formula = raw.get("coupling_formula", "paper")
    if formula not in FORMULAS:
        raise SpecError(f"{source}: [index] coupling_formula must be \"paper\" or \"standard\", "
                        f"got {formula!r}")
    root_id = raw.get("id", "index")
    root = _parse_group(raw, source, "[index]", is_root=True, default_id=root_id)
    _check_unique(root, source)
    coupling = _parse_coupling(raw.get("coupling"), root, source)
    return IndexSpec(root, mode, coupling, formula, source)


def _check_keys(table: dict, allowed: set[str], source: str, where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise SpecError(f"{source}: {where}: unknown key(s) {sorted(unknown)}; "
                        f"allowed: {sorted(allowed)}")


def _parse_node(table, source: str, where: str) -> Node:
    if not isinstance(table, dict):
        raise SpecError(f"{source}: {where}: expected a table, got {table!r}")
    if "column" in table:
        return _parse_leaf(table, source, where)
    return _parse_group(table, source, where, is_root=False)


def _parse_group(table: dict, source: str, where: str, is_root: bool,
                 default_id: str | None = None) -> Node:
    if not is_root:
        _check_keys(table, _GROUP_KEYS, source, where)
    node_id = table.get("id", default_id)
    if not isinstance(node_id, str) or not _ID_RE.match(node_id):
        raise SpecError(f"{source}: {where}: a group needs an id made of letters, digits "
                        f"and '_' (not starting with a digit), got {node_id!r}")
    where = f"{where} '{node_id}'" if not is_root else where
    children_raw = table.get("indicator")
    if not isinstance(children_raw, list) or not children_raw:
        raise SpecError(f"{source}: {where}: a group needs at least one [[...indicator]] "
                        "child (or a column, to be a leaf)")
    children = tuple(_parse_node(child, source, f"{where} > indicator[{k + 1}]")
                     for k, child in enumerate(children_raw))
    given = [c.weight is not None for c in children]
    if any(given) and not all(given):
        missing = [c.id for c in children if c.weight is None]
        raise SpecError(f"{source}: {where}: either every child has a weight or none has "
                        f"(then entropy weights are used); missing for {missing}")
    if all(given) and sum(c.weight for c in children) <= 0:
        raise SpecError(f"{source}: {where}: children's weights are all zero")
    weight = None if is_root else _parse_weight(table, source, where)
    return Node(node_id, str(table.get("name", node_id)), weight, children)


def _parse_leaf(table: dict, source: str, where: str) -> Node:
    _check_keys(table, _LEAF_KEYS, source, where)
    column = table["column"]
    if not isinstance(column, str) or not column.strip():
        raise SpecError(f"{source}: {where}: column must be a non-empty string, got {column!r}")
    if column in _RESERVED_COLUMNS:
        raise SpecError(f"{source}: {where}: column {column!r} is reserved for the row key")
    where = f"{where} (column '{column}')"
    direction = table.get("direction")
    if direction not in ("benefit", "cost"):
        raise SpecError(f"{source}: {where}: direction must be \"benefit\" or \"cost\", "
                        f"got {direction!r}")
    return Node(column, str(table.get("name", column)), _parse_weight(table, source, where),
                column=column, benefit=(direction == "benefit"))


def _parse_weight(table: dict, source: str, where: str) -> float | None:
    if "weight" not in table:
        return None
    w = table["weight"]
    # bool is an int subclass; `weight = true` is a typo, not 1.0
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
        raise SpecError(f"{source}: {where}: weight must be a finite number >= 0, got {w!r}")
    return float(w)


def _check_unique(root: Node, source: str) -> None:
    seen: set[str] = set()
    for node in root.walk():
        if node.id in seen:
            what = "column" if node.is_leaf else "id"
            raise SpecError(f"{source}: {what} {node.id!r} is used more than once")
        seen.add(node.id)


def _parse_coupling(raw, root: Node, source: str) -> tuple[str, str]:
    if raw is None:
        if len(root.children) != 2:
            raise SpecError(f"{source}: [index] has {len(root.children)} subsystem(s); say which "
                            "two to couple with coupling = [\"id1\", \"id2\"]")
        return (root.children[0].id, root.children[1].id)
    ids = {node.id for node in root.walk() if node is not root}
    if (not isinstance(raw, list) or len(raw) != 2 or len(set(map(str, raw))) != 2
            or not all(isinstance(x, str) and x in ids for x in raw)):
        raise SpecError(f"{source}: [index] coupling must name two different indicators of "
                        f"the spec, got {raw!r}")
    return (raw[0], raw[1])


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class DataTable:
    regions: tuple[str, ...]
    years: tuple[int, ...]
    columns: tuple[str, ...]
    values: np.ndarray          # rows x columns, float
    source: str = "<data>"

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]


def read_data(path, columns: Sequence[str] | None = None) -> DataTable:
    """Read the region/year CSV, keeping `columns` (default: every column other
    than region and year)."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return _parse_csv(fh, source, columns)
    except OSError as exc:
        raise SpecError(f"{source}: cannot read data: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _records(reader):
    """(line number, cells) for every non-comment, non-blank record."""
    for cells in reader:
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        yield reader.line_num, [c.strip() for c in cells]


def _parse_csv(fh, source: str, columns: Sequence[str] | None) -> DataTable:
    try:
        records = list(_records(csv.reader(fh)))
    except csv.Error as exc:
        raise SpecError(f"{source}: malformed CSV: {exc}") from None
    if not records:
        raise SpecError(f"{source}: empty data file (no header row)")
    _, header = records[0]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise SpecError(f"{source}: header repeats column(s) {dupes}")
    wanted = list(columns) if columns is not None else [h for h in header
                                                        if h not in _RESERVED_COLUMNS]
    missing = [c for c in (*_RESERVED_COLUMNS, *wanted) if c not in header]
    if missing:
        raise SpecError(f"{source}: missing column(s) {missing}; header has {header}")
    if len(records) == 1:
        raise SpecError(f"{source}: no data rows (only a header)")
    idx = {h: k for k, h in enumerate(header)}
    regions, years, rows, seen = [], [], [], {}
    for line, cells in records[1:]:
        if len(cells) != len(header):
            raise SpecError(f"{source}:{line}: {len(cells)} cells but the header has "
                            f"{len(header)} columns")
        region, year = cells[idx["region"]], _parse_year(cells[idx["year"]], source, line)
        if not region:
            raise SpecError(f"{source}:{line}: column 'region' is empty")
        if (region, year) in seen:
            raise SpecError(f"{source}:{line}: region {region!r}, year {year} already given "
                            f"on line {seen[region, year]}")
        seen[region, year] = line
        regions.append(region)
        years.append(year)
        rows.append([_parse_number(cells[idx[c]], source, line, c) for c in wanted])
    values = np.array(rows, dtype=float).reshape(len(rows), len(wanted))
    return DataTable(tuple(regions), tuple(years), tuple(wanted), values, source)


def _parse_year(text: str, source: str, line: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"{source}:{line}: column 'year': {text!r} is not an integer year") from None


def _parse_number(text: str, source: str, line: int, column: str) -> float:
    if not text:
        raise SpecError(f"{source}:{line}: column {column!r}: empty cell")
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{source}:{line}: column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{source}:{line}: column {column!r}: {text!r} is not a finite number")
    return value


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class EvaluationResult:
    regions: tuple[str, ...]
    years: tuple[int, ...]
    subsystems: tuple[str, ...]        # ids of the root's children, in spec order
    scores: dict[str, np.ndarray]      # every node id (root, groups, leaves) -> score per row
    weights: dict[str, float]          # every non-root node id -> weight within its parent
    global_weights: dict[str, float]   # leaf column -> product of weights down its path
    topsis: TopsisResult
    coupled: tuple[str, str]
    coupling: Coupling
    formula: str


def evaluate(data: DataTable, spec: IndexSpec) -> EvaluationResult:
    leaves = spec.root.leaves()
    X = np.column_stack([data.column(leaf.column) for leaf in leaves])
    benefit = [leaf.benefit for leaf in leaves]
    labels = [f"{data.source}: column {leaf.column!r}" for leaf in leaves]
    Z = normalize(X, benefit, labels)
    leaf_scores = {leaf.id: Z[:, k] for k, leaf in enumerate(leaves)}

    scores: dict[str, np.ndarray] = {}
    weights: dict[str, float] = {}
    _score(spec.root, spec, leaf_scores, scores, weights, data.source)
    global_weights = {leaf.column: _path_weight(spec.root, leaf.id, weights) for leaf in leaves}

    gw = np.array([global_weights[leaf.column] for leaf in leaves])
    closeness = topsis(X, gw, benefit, labels, return_distances=True)
    u1, u2 = (scores[i] for i in spec.coupling)
    coupling = coupling_coordination(u1, u2, spec.formula)
    return EvaluationResult(
        regions=data.regions, years=data.years,
        subsystems=tuple(c.id for c in spec.root.children),
        scores=scores, weights=weights, global_weights=global_weights,
        topsis=closeness, coupled=spec.coupling, coupling=coupling, formula=spec.formula,
    )


def _score(node: Node, spec: IndexSpec, leaf_scores, scores, weights, source) -> np.ndarray:
    """Post-order: a group's score is the weighted sum of its children's scores."""
    if node.is_leaf:
        scores[node.id] = leaf_scores[node.id]
        return scores[node.id]
    child_scores = np.column_stack([_score(c, spec, leaf_scores, scores, weights, source)
                                    for c in node.children])
    w = _group_weights(node, spec, child_scores, source)
    for child, wk in zip(node.children, w):
        weights[child.id] = float(wk)
    scores[node.id] = child_scores @ w
    return scores[node.id]


def _group_weights(node: Node, spec: IndexSpec, child_scores: np.ndarray, source) -> np.ndarray:
    if len(node.children) == 1:
        return np.ones(1)
    if spec.weights == "spec" and node.children[0].weight is not None:
        given = np.array([c.weight for c in node.children])
        return given / given.sum()
    labels = [f"{source}: column {c.column!r}" if c.is_leaf else f"{source}: score of group {c.id!r}"
              for c in node.children]
    # Children's scores are already oriented so that higher is better.
    return entropy_weights(child_scores, [True] * len(node.children), labels)


def _path_weight(root: Node, target: str, weights: dict[str, float]) -> float:
    def find(node: Node, acc: float) -> float | None:
        if node.id == target:
            return acc
        for child in node.children:
            found = find(child, acc * weights[child.id])
            if found is not None:
                return found
        return None
    return find(root, 1.0) or 0.0


def evaluate_file(data_csv, spec_toml) -> EvaluationResult:
    spec = load_spec(spec_toml)
    data = read_data(data_csv, [leaf.column for leaf in spec.root.leaves()])
    return evaluate(data, spec)


# --------------------------------------------------------------------------
# Output and CLI
# --------------------------------------------------------------------------

def _result_rows(result: EvaluationResult):
    header = ["region", "year", *(f"score_{s}" for s in result.subsystems),
              "closeness", "d_plus", "d_minus", "coupling_C", "coordination_T", "coordination_D"]
    yield header
    cols = [*(result.scores[s] for s in result.subsystems), *result.topsis, *result.coupling]
    for i, (region, year) in enumerate(zip(result.regions, result.years)):
        yield [region, str(year), *(f"{col[i]:.6f}" for col in cols)]


def format_result(result: EvaluationResult) -> str:
    """The per-row results as CSV text."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(_result_rows(result))
    return buf.getvalue()


def write_result(result: EvaluationResult, path) -> None:
    """Write the CSV atomically (see files.replacing)."""
    write_text(path, format_result(result))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartspec evaluate",
        description="Static evaluation (entropy weights, TOPSIS, coupling coordination) "
                    "of region/year indicator data against an index spec.")
    parser.add_argument("data", metavar="DATA.csv", help="one row per region and year")
    parser.add_argument("--spec", required=True, metavar="INDEX.toml", help="index hierarchy spec")
    parser.add_argument("-o", "--output", metavar="OUT.csv",
                        help="write results here (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = evaluate_file(args.data, args.spec)
        if args.output:
            write_result(result, args.output)
        else:
            sys.stdout.write(format_result(result))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
